export { SourceError, type Annotation, type SourceErrorWhere, type SourceItem, type SourceListing, type SourceRejection, type SourceSummary } from './types.js';
export { listSources } from './list-sources.js';
export { MANIFEST_COLUMNS, parseCsvManifest, readCsvManifest, type CsvManifest, type ManifestRejectedRow, type ManifestRow, type ParsedManifest } from './csv-manifest.js';
export { listFolderImages, type FolderImage, type FolderListing } from './image-folder-source.js';
export { resolveManifestPath, type ManifestPath } from './manifest-path.js';
export { locateFile, type LocatedFile, type OpenStore } from './locate.js';
export { csvField, csvLine, decodeUtf8, parseCsv, type CsvRecord } from './csv.js';
