/**
 * The transfer-learning API that notebook cells see as `tl`.
 * Plain TypeScript over TensorFlow.js: no vscode, no DOM.
 */
export { device } from './device';
export { setOutputSink, onInterrupt, isInterruptRequested, InterruptedError } from './output';
