/** How library code (the tl core) shows rich output without knowing who displays it. */

/** MIME type → data. Always carries 'text/plain' so the notebook reads anywhere. */
export type MimeBundle = Record<string, unknown>;

export interface DisplayHandle {
  /** Replace the displayed output with a new bundle (persisted in the notebook). */
  update(bundle: MimeBundle): void;
  /** Send an increment to the renderer that shows this output. Lost if no renderer is listening. */
  post(message: unknown): void;
}

export interface OutputSink {
  display(bundle: MimeBundle): DisplayHandle;
}

/** Values that know how to show themselves: the kernel calls this for a cell's last expression. */
export const DISPLAY_SYMBOL = Symbol.for('transfer-lab.display');
export interface Displayable {
  [DISPLAY_SYMBOL](): MimeBundle;
}
