/**
 * One stylesheet for every view, added once to the iframe that all outputs of a notebook share.
 * Colours come from --vscode-* variables, so DOM parts follow theme changes with no code.
 */
const CSS = `
.tl-root {
  --tl-train: var(--vscode-charts-green, #388a34);
  --tl-frozen: var(--vscode-descriptionForeground, #717171);
  --tl-bn: var(--vscode-charts-orange, #d18616);
  --tl-sel: var(--vscode-focusBorder, #0090f1);
  --tl-line: var(--vscode-contrastBorder, var(--vscode-panel-border, rgba(128,128,128,.35)));
  font-family: var(--vscode-font-family, system-ui, sans-serif);
  font-size: var(--vscode-font-size, 13px);
  color: var(--vscode-foreground);
  container-type: inline-size;
  max-width: 100%;
}
.tl-root h3 { margin: 0; font-size: 1.1em; font-weight: 600; overflow-wrap: anywhere; }
.tl-root h4 { margin: 0 0 4px; font-size: 1em; font-weight: 600; }
.tl-root p { margin: 2px 0; }
.tl-mono { font-family: var(--vscode-editor-font-family, monospace); font-variant-numeric: tabular-nums; }
.tl-meta, .tl-progress { color: var(--vscode-descriptionForeground); }
.tl-progress:empty { display: none; }
.tl-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.tl-header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 12px; }
.tl-status[data-status="error"] { color: var(--vscode-errorForeground); }
.tl-controls { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 12px; margin: 6px 0; }
.tl-controls label { display: inline-flex; align-items: center; gap: 4px; }
.tl-controls input[type=range] { width: 120px; accent-color: var(--tl-sel); }
.tl-controls input[type=checkbox] { accent-color: var(--tl-sel); margin: 0; }
.tl-root button {
  font: inherit; color: var(--vscode-button-secondaryForeground, inherit);
  background: var(--vscode-button-secondaryBackground, transparent);
  border: 1px solid var(--vscode-button-border, var(--tl-line)); border-radius: 2px;
  padding: 2px 8px; cursor: pointer;
}
.tl-root button:hover:not(:disabled) { background: var(--vscode-button-secondaryHoverBackground, transparent); }
.tl-root button:disabled { opacity: .5; cursor: default; }
.tl-root :focus-visible { outline: 2px solid var(--tl-sel); outline-offset: 1px; }
.tl-input {
  font: inherit; color: var(--vscode-input-foreground, inherit); background: var(--vscode-input-background, transparent);
  border: 1px solid var(--vscode-input-border, var(--tl-line)); padding: 1px 4px;
}
.tl-input[aria-invalid="true"] { border-color: var(--vscode-inputValidation-errorBorder, red); }
.tl-error { color: var(--vscode-errorForeground); border-left: 3px solid var(--vscode-errorForeground); padding: 4px 8px; overflow-wrap: anywhere; }

/* training */
.tl-body { display: grid; grid-template-columns: minmax(0, 1fr) minmax(150px, 200px); gap: 12px; align-items: start; }
@container (max-width: 620px) { .tl-body { grid-template-columns: minmax(0, 1fr); } }
.tl-panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 12px; }
.tl-panel { margin: 0; min-width: 0; }
.tl-panel[hidden] { display: none; }
.tl-panel-title { font-weight: 600; margin-bottom: 2px; }
.tl-canvas-wrap { position: relative; height: 240px; }
.tl-canvas-wrap > canvas { position: relative; }
.tl-canvas-wrap > .tl-batch-layer { position: absolute; left: 0; top: 0; pointer-events: none; }
.tl-summary { border-left: 1px solid var(--tl-line); padding-left: 10px; }
.tl-summary dl { display: grid; grid-template-columns: auto minmax(0, 1fr); gap: 2px 10px; margin: 0; }
.tl-summary dt, .tl-details dt { color: var(--vscode-descriptionForeground); }
.tl-summary dd { margin: 0; overflow-wrap: anywhere; }
.tl-details dl { margin: 0; }
.tl-details dt { font-size: .9em; }
.tl-details dd { margin: 0 0 4px; overflow-wrap: break-word; }
.tl-best { margin-top: 6px !important; }

/* layer map */
.tl-totals { font-weight: 600; }
.tl-legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 16px; padding: 0; margin: 6px 0; }
.tl-legend li { display: inline-flex; align-items: center; gap: 6px; }
.tl-layer-body { display: grid; grid-template-columns: minmax(0, 1fr) minmax(180px, 260px); gap: 12px; align-items: start; }
@container (max-width: 620px) { .tl-layer-body { grid-template-columns: minmax(0, 1fr); } }
.tl-map { display: flex; flex-direction: column; gap: 2px; }
.tl-map.tl-grouped { max-height: 560px; overflow: auto; }
.tl-strip { display: flex; flex-wrap: wrap; gap: 2px; padding: 2px; }
.tl-strip[hidden] { display: none; }
.tl-root button.tl-cell, .tl-swatch {
  position: relative; box-sizing: border-box; width: 12px; height: 22px; padding: 0; margin: 0; border-radius: 2px; cursor: pointer;
}
.tl-swatch { display: inline-block; cursor: default; }
.tl-root button.tl-cell.tl-trainable, .tl-swatch.tl-trainable { background: var(--tl-train); border: 1px solid var(--tl-train); }
.tl-root button.tl-cell.tl-frozen, .tl-swatch.tl-frozen {
  background: repeating-linear-gradient(135deg, var(--tl-frozen) 0 2px, transparent 2px 5px);
  border: 1px dashed var(--tl-frozen);
}
.tl-cell.tl-bn::after, .tl-swatch.tl-bn::after {
  content: ""; position: absolute; left: 50%; top: 50%; width: 6px; height: 6px; margin: -3px 0 0 -3px;
  border-radius: 50%; background: var(--tl-bn); border: 1px solid var(--vscode-editor-background, #fff); box-sizing: border-box;
}
.tl-cell.tl-selected, .tl-swatch.tl-selected { box-shadow: 0 4px 0 -1px var(--tl-sel); }
.tl-root button.tl-cell:hover { filter: brightness(1.25); }
.tl-root button.tl-cell.tl-cut, .tl-swatch.tl-cut { box-shadow: 4px 0 0 0 var(--tl-bn); margin-right: 4px; }
.tl-root button.tl-cell.tl-unused, .tl-swatch.tl-unused { opacity: .35; }
.tl-cut-note { color: var(--vscode-descriptionForeground); }
.tl-group-row { display: grid; grid-template-columns: minmax(8em, 15em) 90px minmax(0, 1fr) auto auto; align-items: center; gap: 2px 10px; }
.tl-root button.tl-group-head {
  border: none; background: none; padding: 1px 4px; display: flex; gap: 4px; min-width: 0; text-align: left; color: var(--vscode-foreground);
}
.tl-group-name { font-family: var(--vscode-editor-font-family, monospace); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.tl-group > .tl-strip { padding-left: 1.4em; }
.tl-group-bar { display: inline-flex; width: 90px; height: 10px; border: 1px solid var(--tl-line); }
.tl-bar-trainable { background: var(--tl-train); }
.tl-bar-frozen { background: repeating-linear-gradient(135deg, var(--tl-frozen) 0 2px, transparent 2px 5px); }
.tl-group-summary, .tl-group-note { color: var(--vscode-descriptionForeground); }
.tl-group-selected > .tl-group-row { box-shadow: inset 3px 0 0 var(--tl-sel); }
.tl-root button.tl-small { padding: 0 6px; font-size: .9em; }
.tl-details { border-left: 1px solid var(--tl-line); padding-left: 10px; position: sticky; top: 0; min-width: 0; }
.tl-layer-name { overflow-wrap: anywhere; font-family: var(--vscode-editor-font-family, monospace); }
.tl-selection { margin-top: 8px; }
.tl-sel-text { overflow-wrap: anywhere; }
.tl-code {
  font-family: var(--vscode-editor-font-family, monospace); background: var(--vscode-textCodeBlock-background, rgba(128,128,128,.12));
  padding: 6px 8px; margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere; user-select: text;
}
.tl-code[hidden] { display: none; }

/* confusion matrix */
.tl-matrix-wrap { overflow: auto; max-width: 100%; }
.tl-matrix { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.tl-matrix th, .tl-matrix td { padding: 3px 6px; border: 1px solid var(--tl-line); }
.tl-matrix td { text-align: right; min-width: 2.5em; }
.tl-matrix td.tl-diag { outline: 2px solid var(--vscode-foreground); outline-offset: -3px; font-weight: 600; }
.tl-matrix th.tl-row { text-align: left; max-width: 14em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-weight: 600; }
.tl-matrix th.tl-col { vertical-align: bottom; }
.tl-matrix th.tl-col span { writing-mode: vertical-rl; transform: rotate(180deg); display: inline-block; max-height: 10em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.tl-matrix th.tl-corner { font-weight: normal; color: var(--vscode-descriptionForeground); font-size: .9em; vertical-align: bottom; }
.tl-matrix .tl-metric-head { vertical-align: bottom; color: var(--vscode-descriptionForeground); }
.tl-matrix td.tl-metric { border-color: transparent; }
.tl-matrix td.tl-metric:nth-last-child(3) { border-left: 2px solid var(--tl-line); }

/* image gallery (top losses, Grad-CAM) */
.tl-gallery-grid { list-style: none; margin: 6px 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 10px; }
.tl-gallery-item { margin: 0; max-width: 264px; border: 1px solid var(--tl-line); padding: 4px; }
.tl-gallery-fig { margin: 0; }
.tl-gallery-item.tl-flag { border-color: var(--vscode-errorForeground, #e51400); }
.tl-gallery-item img { display: block; max-width: 256px; image-rendering: pixelated; }
.tl-gallery-item figcaption { font-size: .92em; overflow-wrap: anywhere; }
.tl-gallery-item figcaption div:first-child { font-weight: 600; }
`;

const STYLE_ID = 'transfer-lab-renderer-styles';

export function ensureStyles(doc: Document = document): void {
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement('style');
  style.id = STYLE_ID;
  style.textContent = CSS;
  doc.head.append(style);
}
