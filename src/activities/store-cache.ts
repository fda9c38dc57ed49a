import type { ArtifactStore } from '../storage/artifact-store.js';
import { openStore } from '../storage/open-store.js';

/** Activities receive store URIs in their inputs; this opens each store once per worker. */
export interface StoreCache {
  open(uri: string): ArtifactStore;
}

export function createStoreCache(open: (uri: string) => ArtifactStore = (uri) => openStore(uri)): StoreCache {
  const stores = new Map<string, ArtifactStore>();
  return {
    open(uri) {
      let store = stores.get(uri);
      if (!store) {
        store = open(uri);
        stores.set(uri, store);
      }
      return store;
    },
  };
}
