/**
 * Writes the notebook the "Fine-tune model" wizard produces: a readable, editable record of the
 * run (load → freeze map → data → train → evaluate → export) that runs with the Transfer Lab kernel.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export type ModelChoice =
  | { kind: 'bundled'; name: string }
  | { kind: 'zoo'; name: string }
  | { kind: 'file'; path: string }
  /**
   * Text bases: the word-vector package by name, a GloVe / word2vec file (.txt, .vec, optionally
   * .gz), or a folder holding an ONNX sentence encoder (model.onnx) and its tokenizer.json.
   */
  | { kind: 'text-package'; name: string }
  | { kind: 'vectors'; path: string }
  | { kind: 'encoder'; path: string };

export const isTextModel = (m: ModelChoice): boolean => m.kind === 'text-package' || m.kind === 'vectors' || m.kind === 'encoder';

/** Choices that name a file or folder (written relative to the notebook). */
const hasPath = (m: ModelChoice): m is Extract<ModelChoice, { path: string }> => m.kind === 'file' || m.kind === 'vectors' || m.kind === 'encoder';

export type Strategy = { kind: 'feature-extraction' } | { kind: 'fine-tune'; blocks: number } | { kind: 'full' };

export interface FineTunePlan {
  model: ModelChoice;
  dataDir: string;
  strategy: Strategy;
  epochs: number;
  /** A rate, or 'auto': the notebook picks one with tl.lrFind. */
  learningRate: number | 'auto';
  batchSize: number;
  /** Classes found by the folder check, for the notebook's description. */
  classes?: string[];
  /** Where the trained model is exported; default ./export/<name> beside the notebook. */
  exportDir?: string;
  /** Text bases: load only the most frequent so many words. */
  vocabularyLimit?: number;
  /** Text bases: the text the notebook's predict cell classifies. */
  exampleText?: string;
}

export interface PlanProblem {
  field: keyof FineTunePlan;
  message: string;
}

export function validatePlan(p: FineTunePlan): PlanProblem[] {
  const problems: PlanProblem[] = [];
  if (!Number.isInteger(p.epochs) || p.epochs < 1 || p.epochs > 10_000) problems.push({ field: 'epochs', message: 'Epochs must be a whole number from 1 to 10000.' });
  if (p.learningRate !== 'auto' && !(p.learningRate > 0 && p.learningRate < 10)) problems.push({ field: 'learningRate', message: "The learning rate must be a number above 0 and below 10, e.g. 0.001, or 'auto'." });
  if (!Number.isInteger(p.batchSize) || p.batchSize < 1 || p.batchSize > 65_536) problems.push({ field: 'batchSize', message: 'The batch size must be a whole number from 1 to 65536.' });
  if (p.strategy.kind === 'fine-tune' && (!Number.isInteger(p.strategy.blocks) || p.strategy.blocks < 1)) problems.push({ field: 'strategy', message: 'Fine-tuning needs at least one block to unfreeze.' });
  if (p.model.kind === 'file' && !/model\.json$/i.test(p.model.path)) problems.push({ field: 'model', message: `${p.model.path} is not a model.json file.` });
  if (p.model.kind === 'vectors' && !/\.(txt|vec)(\.gz)?$/i.test(p.model.path)) problems.push({ field: 'model', message: `${p.model.path} is not a word-vector file (.txt, .vec, optionally gzipped).` });
  if (isTextModel(p.model) && p.strategy.kind !== 'feature-extraction') problems.push({ field: 'strategy', message: 'A text base trains with feature extraction: the word vectors or the sentence encoder stay frozen and the new head trains.' });
  if (p.vocabularyLimit !== undefined && !(Number.isInteger(p.vocabularyLimit) && p.vocabularyLimit > 0)) problems.push({ field: 'vocabularyLimit', message: 'The vocabulary limit must be a whole number, 1 or more.' });
  return problems;
}

/** Parses the wizard's text inputs; undefined when the text is not a valid value. */
export function parsePositiveInt(text: string): number | undefined {
  const t = text.trim();
  return /^\d+$/.test(t) && Number(t) > 0 ? Number(t) : undefined;
}

/** A rate above 0 and below 10, or 'auto' (tl.lrFind picks it). */
export function parseLearningRate(text: string): number | 'auto' | undefined {
  const t = text.trim();
  if (t.toLowerCase() === 'auto') return 'auto';
  if (!/^(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(t)) return undefined;
  const v = Number(t);
  return v > 0 && v < 10 ? v : undefined;
}

function modelLabel(m: ModelChoice): string {
  if (m.kind === 'vectors') return path.basename(m.path).replace(/\.gz$/i, '').replace(/\.[^.]*$/, '') || 'vectors';
  if (m.kind === 'encoder') return path.basename(m.path) || 'encoder';
  return m.kind === 'file' ? path.basename(path.dirname(m.path)) || 'model' : m.name;
}

/** A path as the notebook should spell it: relative to the notebook when it is nearby, with forward slashes. */
function nbPath(target: string, notebookDir: string): string {
  const rel = path.relative(notebookDir, target);
  const use = rel && !rel.startsWith('..' + path.sep + '..' + path.sep + '..') && !path.isAbsolute(rel) ? rel : target;
  const s = use.split(path.sep).join('/');
  return s.startsWith('.') || path.isAbsolute(s) || /^[a-zA-Z]:/.test(s) ? s : `./${s}`;
}

function modelSource(m: ModelChoice, notebookDir: string): string {
  return hasPath(m) ? nbPath(m.path, notebookDir) : m.name;
}

const js = (v: unknown) => JSON.stringify(v);

/** Markdown code span that holds any text: the fence is longer than any run of backticks inside. */
export function codeSpan(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = longest > 0 || text.startsWith(' ') || text.endsWith(' ') ? ' ' : '';
  return `${fence}${pad}${text.replace(/[\r\n]+/g, ' ')}${pad}${fence}`;
}

function strategyText(s: Strategy): string {
  switch (s.kind) {
    case 'feature-extraction':
      return 'feature extraction: the pretrained base stays frozen and only the new head trains';
    case 'fine-tune':
      return `fine-tuning: first the new head trains on the frozen base, then the last ${s.blocks} block${s.blocks === 1 ? '' : 's'} of the base are unfrozen and train at a tenth of the learning rate`;
    case 'full':
      return 'full training: every layer trains, starting from the pretrained weights';
  }
}

export function notebookFileName(plan: FineTunePlan): string {
  const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'data';
  return `fine-tune-${slug(modelLabel(plan.model))}-${slug(path.basename(plan.dataDir))}.ipynb`;
}

export interface GeneratedNotebook {
  nbformat: 4;
  nbformat_minor: 5;
  metadata: Record<string, unknown>;
  cells: Record<string, unknown>[];
}

/** Paths as the notebook spells them. */
interface NotebookPaths {
  source: string;
  dataDir: string;
  exportDir: string;
}

function introCell(plan: FineTunePlan, p: NotebookPaths): [string, string] {
  return [
    'markdown',
    [
      `# Fine-tune ${codeSpan(modelLabel(plan.model))} on ${codeSpan(path.basename(plan.dataDir))}`,
      '',
      `Written by the Transfer Lab "Fine-tune model" wizard. Strategy: ${strategyText(plan.strategy)}.`,
      '',
      `- Model: ${codeSpan(p.source)}`,
      `- Data: ${codeSpan(p.dataDir)}${plan.classes?.length ? ` (classes: ${plan.classes.map(codeSpan).join(', ')})` : ''}`,
      `- ${plan.epochs} epochs, learning rate ${plan.learningRate === 'auto' ? 'picked by `tl.lrFind`' : plan.learningRate}, batch size ${plan.batchSize}`,
      '',
      'Every cell is plain JavaScript: change it and run it again. Interrupt (■) stops training after the current batch and keeps the weights.',
    ].join('\n'),
  ];
}

function trainCell(plan: FineTunePlan): [string, string] {
  const s = plan.strategy;
  const common = [plan.learningRate === 'auto' ? '  learningRate,' : `  learningRate: ${plan.learningRate},`, `  batchSize: ${plan.batchSize},`, '  earlyStopping: { patience: 3 },', '});'];
  const lines =
    s.kind === 'fine-tune'
      ? [
          `// 4. Train: the head first (base frozen), then the last ${s.blocks} block(s) of the base at a tenth of the learning rate.`,
          'const result = await tl.fineTune(model, data, {',
          `  headEpochs: ${plan.epochs},`,
          `  fineTuneEpochs: ${plan.epochs},`,
          `  unfreezeBlocks: ${s.blocks},`,
          ...common,
        ]
      : ['// 4. Train, with live loss and accuracy. Early stopping restores the best weights.', 'const result = await tl.fit(model, data, {', `  epochs: ${plan.epochs},`, ...common];
  return ['code', lines.join('\n')];
}

/** The learning rate picked by fastai's learning-rate finder, when the wizard was asked for 'auto'. */
function lrFindCell(plan: FineTunePlan): [string, string] {
  return [
    'code',
    [
      "// The learning rate ('auto'): tl.lrFind trains briefly at rising rates (the weights are put back afterwards),",
      '// draws the loss against the rate and suggests the rate where the loss falls fastest.',
      `const { suggestion: learningRate } = await tl.lrFind(model, data, { batchSize: ${plan.batchSize}, seed: 42 });`,
      'learningRate',
    ].join('\n'),
  ];
}

/** The cells from loading the model to exporting it. */
function workflowCells(plan: FineTunePlan, p: NotebookPaths): [string, string][] {
  const s = plan.strategy;
  return [
    introCell(plan, p),
    [
      'code',
      [
        '// 1. The pretrained model. Its freeze map shows every layer, frozen or trainable, with its parameters.',
        `const base = await tl.load(${js(p.source)});`,
        'base',
      ].join('\n'),
    ],
    [
      'code',
      [
        '// 2. The images: one subfolder per class. Size and pixel scaling follow the model; 20% of each class is held out.',
        `const data = await tl.imageFolder(${js(p.dataDir)}, { model: base, validationSplit: 0.2, seed: 42 });`,
        "console.log(`classes: ${data.classes.join(', ')}`);",
        "console.log(`train ${data.train.size} images, validation ${data.validation?.size ?? 0}` + (data.skipped.length ? `, ${data.skipped.length} unreadable files skipped` : ''));",
      ].join('\n'),
    ],
    [
      'code',
      [
        '// 3. A new head for these classes on top of the base. The base is frozen' + (s.kind === 'full' ? ', then everything is unfrozen for full training.' : ' (its BatchNormalization layers run in inference mode).'),
        "tl.freeze(base, 'all');",
        'const model = tl.withHead(base, { classes: data.classes, dropout: 0.2 });',
        ...(s.kind === 'full' ? ["tl.unfreeze(model, 'all');"] : []),
        'model',
      ].join('\n'),
    ],
    ...(plan.learningRate === 'auto' ? [lrFindCell(plan)] : []),
    trainCell(plan),
    ['code', ['// 5. Accuracy, per-class precision and recall, and the confusion matrix on the held-out images.', 'const report = await tl.evaluate(model, data.validation);'].join('\n')],
    [
      'code',
      [
        '// 6. Export: TF.js layers format plus the class names, input size and preprocessing.',
        '//    Load it again with tl.load, or classify an image with `npx transfer-lab predict <dir> <image>`.',
        `const saved = await tl.save(model, ${js(p.exportDir)});`,
        'saved',
      ].join('\n'),
    ],
  ];
}

/** A text folder on a frozen text base: the same workflow, with tl.textFolder and a predict on a string. */
function textWorkflowCells(plan: FineTunePlan, p: NotebookPaths): [string, string][] {
  const encoder = plan.model.kind === 'encoder';
  const options = plan.vocabularyLimit && !encoder ? `, { text: { limit: ${plan.vocabularyLimit} } }` : '';
  const frozen = encoder ? 'the frozen sentence encoder' : 'the frozen word vectors';
  return [
    introCell(plan, p),
    [
      'code',
      [
        ...(encoder
          ? ['// 1. The pretrained text base: tokenizer.json → ONNX sentence encoder (frozen, in ONNX Runtime) → pooling, one vector per text.', '//    Its freeze map and summary state the tokenizer, its vocabulary, the token limit and the pooling.']
          : ['// 1. The pretrained text base: tokenizer → frozen word vectors → pooling, one vector per text.', '//    Its freeze map and summary state the vocabulary, lower-casing and unknown-word handling.']),
        `const base = await tl.load(${js(p.source)}${options});`,
        'base',
      ].join('\n'),
    ],
    [
      'code',
      [
        '// 2. The texts: one subfolder per class, one .txt file per text; 20% of each class is held out.',
        `const data = await tl.textFolder(${js(p.dataDir)}, { validationSplit: 0.2, seed: 42 });`,
        "console.log(`classes: ${data.classes.join(', ')}`);",
        "console.log(`train ${data.train.size} texts, validation ${data.validation?.size ?? 0}` + (data.skipped.length ? `, ${data.skipped.length} unreadable or empty files skipped` : ''));",
      ].join('\n'),
    ],
    ['code', [`// 3. A new head for these classes on top of ${frozen}.`, 'const model = tl.withHead(base, { classes: data.classes, dropout: 0.2 });', 'model'].join('\n')],
    ...(plan.learningRate === 'auto' ? [lrFindCell(plan)] : []),
    trainCell(plan),
    ['code', ['// 5. Accuracy, per-class precision and recall, and the confusion matrix on the held-out texts.', 'const report = await tl.evaluate(model, data.validation);'].join('\n')],
    ['code', ['// 6. Classify a text: edit the string and run the cell again.', `await tl.predict(model, ${js(plan.exampleText ?? 'some text to classify')})`].join('\n')],
    [
      'code',
      [
        `// 7. Export: TF.js layers format plus the class names and ${encoder ? 'the encoder with its tokenizer.json' : 'the vocabulary and the tokenizer settings'}.`,
        '//    Load it again with tl.load, or classify a text with `npx transfer-lab predict <dir> "some text"`.',
        `const saved = await tl.save(model, ${js(p.exportDir)});`,
        'saved',
      ].join('\n'),
    ],
  ];
}

export function generateNotebook(plan: FineTunePlan, notebookDir: string): GeneratedNotebook {
  const problems = validatePlan(plan);
  if (problems.length) throw new Error(problems.map((p) => p.message).join(' '));
  const source = modelSource(plan.model, notebookDir);
  const dataDir = nbPath(plan.dataDir, notebookDir);
  const exportDir = nbPath(plan.exportDir ?? path.join(notebookDir, 'export', path.basename(notebookFileName(plan), '.ipynb')), notebookDir);
  const cells = (isTextModel(plan.model) ? textWorkflowCells : workflowCells)(plan, { source, dataDir, exportDir });

  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      language_info: { name: 'javascript' },
      transferLab: { generatedBy: 'fine-tune wizard', plan: { ...plan, dataDir, model: hasPath(plan.model) ? { kind: plan.model.kind, path: source } : plan.model } },
    },
    cells: cells.map(([kind, text]) => {
      const cell: Record<string, unknown> = { id: randomBytes(4).toString('hex'), cell_type: kind, metadata: {}, source: text.split(/(?<=\n)/) };
      if (kind === 'code') {
        cell.outputs = [];
        cell.execution_count = null;
      }
      return cell;
    }),
  };
}
