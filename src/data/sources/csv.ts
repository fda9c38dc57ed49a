/**
 * A small RFC 4180 CSV reader for manifests: quoted fields (with `""` escapes, commas and line
 * breaks inside), CRLF, LF or CR line ends, a leading byte-order mark, blank lines skipped. Each
 * record remembers the line it starts on, so every complaint can name `file line N`.
 */
import { SourceError } from './types.js';

export interface CsvRecord {
  /** 1-based line on which the record starts. */
  line: number;
  fields: string[];
}

/** Decodes UTF-8 strictly (a manifest saved as Latin-1 would otherwise yield mangled paths). */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SourceError('is not valid UTF-8 text', { file, expected: 'a UTF-8 CSV file (save it as "CSV UTF-8")' });
  }
}

/**
 * Parses CSV text into records. Records whose fields are all empty or whitespace (blank lines,
 * spreadsheet rows of bare commas) are skipped. A quote inside an unquoted field is kept as a
 * literal character; text after a closing quote other than spaces and the separator, and a quote
 * that never closes, are errors naming the line.
 */
export function parseCsv(text: string, file: string): CsvRecord[] {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  const n = src.length;

  const endRecord = (): void => {
    fields.push(field);
    if (fields.some((f) => f.trim() !== '')) records.push({ line: recordLine, fields });
    fields = [];
    field = '';
  };

  while (i < n) {
    const c = src[i] as string;
    if (c === '"' && field.trim() === '') {
      // Quoted field (whitespace before the opening quote is dropped).
      const openedOn = line;
      field = '';
      i++;
      for (;;) {
        if (i >= n) throw new SourceError('a quoted field is never closed', { file, line: openedOn, expected: 'a closing " (write a quote inside a quoted field as "")' });
        const q = src[i] as string;
        if (q === '"') {
          if (src[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (q === '\r') {
          line++;
          if (src[i + 1] === '\n') {
            field += '\r\n';
            i += 2;
            continue;
          }
        } else if (q === '\n') {
          line++;
        }
        field += q;
        i++;
      }
      while (i < n && (src[i] === ' ' || src[i] === '\t')) i++;
      const after = src[i];
      if (after !== undefined && after !== ',' && after !== '\n' && after !== '\r') {
        throw new SourceError(`unexpected ${JSON.stringify(after)} after the closing quote of field ${fields.length + 1}`, {
          file,
          line,
          expected: 'a comma or the end of the line after a closing quote',
        });
      }
      continue;
    }
    if (c === ',') {
      fields.push(field);
      field = '';
      i++;
    } else if (c === '\n' || c === '\r') {
      endRecord();
      i += c === '\r' && src[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
    } else {
      field += c;
      i++;
    }
  }
  if (field !== '' || fields.length > 0) endRecord();
  return records;
}

/** Quotes a field when it holds a comma, quote, line break or surrounding whitespace. */
export function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One CSV line (no line end) from fields. */
export function csvLine(fields: readonly string[]): string {
  return fields.map(csvField).join(',');
}
