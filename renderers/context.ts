/**
 * The parts of VS Code's notebook renderer API (the `vscode-notebook-renderer` types) that these
 * renderers use, declared here so the renderers need no `vscode` package.
 */
export interface OutputItem {
  readonly id: string;
  readonly mime: string;
  readonly metadata?: unknown;
  text(): string;
  json(): unknown;
}

export interface Disposable {
  dispose(): void;
}

export interface RendererContext<TState = unknown> {
  /** Present when the renderer has messaging (`requiresMessaging` optional or always). */
  postMessage?(message: unknown): void;
  onDidReceiveMessage?(listener: (message: unknown) => void): Disposable;
  setState(state: TState): void;
  getState(): TState | undefined;
}

export interface RendererApi {
  renderOutputItem(outputItem: OutputItem, element: HTMLElement, signal?: AbortSignal): void;
  /** Without an id: every output this renderer drew. */
  disposeOutputItem?(id?: string): void;
}
