export * from './mime';
export * from './shapes';
export * from './display';
export * from './protocol';
export * from './errors';
export * from './markdown';
