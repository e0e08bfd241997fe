/**
 * Identifiers shared by the extension host, the kernel process, the CLI and the renderers.
 * Defined once here; everything else imports them.
 */

/** Custom MIME types. The `+json` suffix makes nbformat store the data as JSON, not as a string. */
export const MIME = {
  training: 'application/vnd.transfer-lab.training+json',
  layers: 'application/vnd.transfer-lab.layers+json',
  confusion: 'application/vnd.transfer-lab.confusion+json',
  device: 'application/vnd.transfer-lab.device+json',
  lrFind: 'application/vnd.transfer-lab.lrfind+json',
  gallery: 'application/vnd.transfer-lab.gallery+json',
} as const;
export type TransferLabMime = (typeof MIME)[keyof typeof MIME];

export const TEXT_PLAIN = 'text/plain';
export const TEXT_MARKDOWN = 'text/markdown';

export const EXTENSION_ID = 'transfer-lab.transfer-lab';
export const CONTROLLER_ID = 'transfer-lab-kernel';
export const CONTROLLER_LABEL = 'Transfer Lab (TensorFlow.js)';
export const NOTEBOOK_TYPE = 'jupyter-notebook';
export const RENDERER_ID = 'transfer-lab-renderer';

/** Languages the kernel runs. */
export const KERNEL_LANGUAGES = ['javascript', 'typescript'] as const;
export type KernelLanguage = (typeof KERNEL_LANGUAGES)[number];
