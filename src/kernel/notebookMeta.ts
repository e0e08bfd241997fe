/** The nbformat metadata of a notebook opened by VS Code's ipynb serializer. */
import type * as vscode from 'vscode';
import { type NbMetadata, notebookKernelLanguage } from '../common/notebookKind';
import type { KernelLanguage } from '../common/mime';

/** The serializer keeps the file's top level (nbformat, metadata) as the document's metadata. */
export function nbMetadata(notebook: vscode.NotebookDocument): NbMetadata {
  const top = notebook.metadata as { metadata?: NbMetadata } & NbMetadata;
  return top.metadata ?? top;
}

export function notebookLanguage(notebook: vscode.NotebookDocument): KernelLanguage | undefined {
  return notebookKernelLanguage(nbMetadata(notebook));
}
