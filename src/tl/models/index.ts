/**
 * Models: load dispatch (load.ts), model files and manifests (files.ts), downloads (download.ts),
 * cache and bundled folders (cache.ts), metadata in memory (meta.ts) and from files (savedMeta.ts),
 * the zoo (zoo.ts), model kinds (kinds.ts), and the checks on untrusted files (safety/).
 */
export { load, loadLayersFromDir, type LoadedModel } from './load';
export { META_FILE, META_KEY, detectFormat, readModelArtifacts, type LoadOptions, type LoadProgress } from './files';
export { modelJsonUrl, downloadModel } from './download';
export { defaultCacheDir, cacheFolderFor, bundledModelsDir, bundledNames } from './cache';
export { assertTrainable, isGraphModel, isLayersModel, outputUnits, type AnyModel } from './kinds';
export { featureLayerHint, setFeatureLayerHint } from './meta';
