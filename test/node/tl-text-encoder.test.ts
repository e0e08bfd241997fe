import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TextTokenizer } from '../../src/tl/text/tokenizerFile';
import { openSentenceEncoder } from '../../src/tl/text/sentenceEncoder';
import { poolTokens } from '../../src/tl/text/sentencePooling';
import { load } from '../../src/tl/models';
import { getMeta } from '../../src/tl/models/meta';
import { describeTextInfo } from '../../src/tl/text/types';
import { textEncodingFor } from '../../src/tl/text/encoding';
import { ENCODER_DIR, encoderCopy, otherGraph, reference } from './tl-text-encoder-fixtures';
import { tmpDir, useCpu } from './tl-fixtures';

process.env.TRANSFER_LAB_ORT_PROVIDERS = 'cpu';
const BIG = 1 << 30;
const tokenizerFile = path.join(ENCODER_DIR, 'tokenizer.json');
const onnxFile = path.join(ENCODER_DIR, 'model.onnx');

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test('tokenizer.json through @huggingface/tokenizers: the ids PyTorch was given, specials kept when a text is cut', async () => {
  const tok = await TextTokenizer.read(tokenizerFile, false);
  const ref = reference();
  assert.equal(tok.vocabularySize, ref.config.vocab_size);
  assert.equal(tok.modelType, 'WordPiece');
  assert.equal(tok.lowercase, true);
  assert.equal(tok.padId, 0);
  for (const t of ref.texts) assert.deepEqual(tok.ids(t.text, 64).ids, t.ids, `ids of ${JSON.stringify(t.text)} (${t.tokens.join(' ')})`);
  const dog = ref.texts[0].ids;
  assert.deepEqual(tok.ids(ref.texts[0].text, 4).ids, [dog[0], dog[1], dog[2], dog.at(-1)], '[CLS] the cat [SEP]: cut to 4 tokens, [SEP] kept');
  const b = tok.batch(['unaffable', 'The cat and the dog.'], 64);
  assert.equal(b.length, 8, 'padded to the longest text of the batch');
  assert.deepEqual([...b.mask.slice(0, 8)].map(Number), [1, 1, 1, 1, 1, 0, 0, 0]);
  assert.deepEqual([...b.ids.slice(5, 8)].map(Number), [0, 0, 0], '[PAD] after the shorter text');
});

test("the encoder's pooled vectors match PyTorch's (mean, cls and max over the attention mask)", async () => {
  const ref = reference();
  const { input_ids, attention_mask } = ref.batch;
  const n = input_ids.length;
  const L = input_ids[0].length;
  const big = (rows: number[][]) => BigInt64Array.from(rows.flat(), (v) => BigInt(v));
  const batch = { ids: big(input_ids), mask: big(attention_mask), types: new BigInt64Array(n * L), batch: n, length: L };
  const diffs: Record<string, number> = {};
  for (const pooling of ['mean', 'cls', 'max'] as const) {
    const enc = await openSentenceEncoder(onnxFile, tokenizerFile, { pooling, maxLength: 64, maxBytes: BIG }, false);
    const got = await enc.run(batch);
    diffs[pooling] = maxDiff(got, ref.pooled[pooling].flat());
    assert.ok(diffs[pooling] < 1e-5, `${pooling}: max difference ${diffs[pooling]} from torch`);
    // The same through texts: tokenizer and encoder together.
    const fromText = await enc.encode(ref.texts.slice(0, n).map((t) => t.text));
    assert.ok(maxDiff(fromText, ref.pooled[pooling].flat()) < 1e-5, `${pooling} from the texts`);
    await enc.release();
  }
  console.log(`max |ours − torch| over ${n} texts × ${ref.config.hidden}: ${JSON.stringify(diffs)}`);
});

test('padding does not change a text\'s vector; empty and hostile texts encode; batches are cut at batchSize', async () => {
  const enc = await openSentenceEncoder(onnxFile, tokenizerFile, { pooling: 'mean', maxLength: 32, maxBytes: BIG, batchSize: 2 }, false);
  const alone = await enc.encode(['my cat']);
  const long = 'the compiler found a bug in the server code and the test build failed with a stack error';
  const together = await enc.encode([long, 'my cat', '']);
  assert.ok(maxDiff(alone, together.subarray(32, 64)) < 1e-6, 'alone vs padded beside a longer text');
  const hostile = await enc.encode(['\u0000\u0007\u001b[31mred\u202e', '😀'.repeat(50), 'x'.repeat(5000), '<script>alert(1)</script>']);
  assert.equal(hostile.length, 4 * 32);
  assert.ok(hostile.every(Number.isFinite));
  await enc.release();
  await assert.rejects(enc.encode(['x']), /this sentence encoder was disposed/);
  // Pooling by hand: a text without real tokens gives zeros, mean+max puts both side by side.
  const states = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  const mask = BigInt64Array.of(1n, 0n, 0n, 0n);
  assert.deepEqual([...poolTokens(states, mask, 2, 2, 2, 'mean+max')], [1, 2, 1, 2, 0, 0, 0, 0]);
});

test('tl.load of a folder or of model.onnx with tokenizer.json beside it: a text base with its summary', async () => {
  await useCpu();
  for (const src of [ENCODER_DIR, onnxFile]) {
    const base = await load(src, { text: { maxLength: 24, pooling: 'mean+max' } });
    const info = getMeta(base)!.text!;
    assert.equal(info.kind, 'sentence-encoder');
    assert.equal(info.dim, 64, 'mean+max doubles the 32 numbers');
    const line = describeTextInfo(info);
    for (const want of ['ONNX sentence encoder', 'WordPiece', '156 tokens', 'lower-cased', 'up to 24 tokens', 'mean and max pooling', '64 numbers', 'frozen']) assert.ok(line.includes(want), `${want} in: ${line}`);
    assert.equal(textEncodingFor(base)!.elementShape[0], 64);
    (base as { dispose(): void }).dispose();
  }
  // The cache key names both files' contents and the settings: the same encoder loaded twice shares it.
  const keyOf = async (src: string, maxLength: number) => {
    const m = await load(src, { text: { maxLength } });
    const key = textEncodingFor(m)!.key;
    (m as { dispose(): void }).dispose();
    return key;
  };
  assert.equal(await keyOf(ENCODER_DIR, 24), await keyOf(encoderCopy(), 24));
  assert.notEqual(await keyOf(ENCODER_DIR, 24), await keyOf(ENCODER_DIR, 25));
  assert.notEqual(await keyOf(ENCODER_DIR, 24), await keyOf(encoderCopy((j) => ({ ...j, normalizer: null })), 24), 'another tokenizer.json, another key');
  // A graph that pools itself: pooling 'model', found without being asked.
  const pooled = await load(otherGraph('pooled'));
  assert.equal(getMeta(pooled)!.text!.pooling, 'model');
  const v = await textEncodingFor(pooled)!.encode(['cat', 'dog cat']);
  assert.equal(v.length, 8);
  const v32 = await textEncodingFor(await load(otherGraph('pooled-int32')))!.encode(['cat', 'dog cat']);
  assert.deepEqual([...v32], [...v], 'int32 inputs are fed int32 ids');
  await assert.rejects(load(otherGraph('pooled'), { text: { pooling: 'mean' } }), /one vector a text already.*pooling must be 'model'/);
  await assert.rejects(load(ENCODER_DIR, { text: { pooling: 'model' } }), /pooling 'model' needs a \[batch, hidden\] output/);
  await assert.rejects(load(ENCODER_DIR, { text: { pooling: 'median' as never } }), /pooling must be one of/);
});

test('untrusted tokenizer.json and graphs: clear errors naming the file', async () => {
  await assert.rejects(TextTokenizer.read(tokenizerFile, false, 1000), /tokenizer\.json holds .* more than the/);
  await assert.rejects(load(encoderCopy(() => '{"model": {"type": "WordPiece", "vocab": {')), /tokenizer\.json is not valid JSON/);
  await assert.rejects(load(encoderCopy(() => [1, 2])), /tokenizer\.json: a tokenizer\.json is a JSON object; this file holds an array/);
  await assert.rejects(load(encoderCopy((j) => ({ ...j, model: { ...(j.model as object), type: 'Charm' } }))), /tokenizer\.json: tokenizer model type "Charm" is not supported/);
  await assert.rejects(load(encoderCopy((j) => ({ ...j, model: { type: 'WordPiece', unk_token: '[UNK]' } }))), /tokenizer\.json: the WordPiece model has no vocabulary/);
  await assert.rejects(load(encoderCopy((j) => ({ ...j, model: { ...(j.model as object), vocab: { a: -3 } } }))), /vocabulary entry "a" has id -3/);
  const beyond = encoderCopy((j) => {
    const model = j.model as { vocab: Record<string, number> };
    return { ...j, model: { ...model, vocab: { ...model.vocab, zebra: 900 } } };
  });
  await assert.rejects(load(beyond), /tokenizer\.json gives token ids up to 900, but the embedding table of model\.onnx has 156 rows/);
  await assert.rejects(load(otherGraph('pixels')), /model\.onnx: a sentence encoder takes input_ids and attention_mask .* this graph takes "pixel_values", without input_ids and attention_mask/);
  await assert.rejects(load(otherGraph('rank4')), /model\.onnx: output 'out' is float32 \[N, S, 2, 2\]; a sentence encoder gives/);
  const noTokenizer = encoderCopy();
  fs.rmSync(path.join(noTokenizer, 'tokenizer.json'));
  await assert.rejects(load(noTokenizer), /model\.onnx: it takes input_ids: a text encoder\. Put its tokenizer\.json beside it/);
  const notFile = path.join(tmpDir('enc-dir'), 'x');
  fs.mkdirSync(path.join(notFile, 'tokenizer.json'), { recursive: true });
  fs.copyFileSync(onnxFile, path.join(notFile, 'model.onnx'));
  await assert.rejects(load(notFile), /tokenizer\.json is a folder/);
});

test("texts longer than the encoder's positions: the token limit defaults to tokenizer.json's truncation length", async () => {
  await useCpu();
  const long = Array.from({ length: 300 }, (_, i) => (i % 2 ? 'cat' : 'dog')).join(' ');
  const base = await load(ENCODER_DIR);
  const info = getMeta(base)?.text;
  assert.equal(info?.maxLength, reference().config.max_positions, 'truncation.max_length of tokenizer.json');
  const v = await textEncodingFor(base)!.encode([long]);
  assert.ok(v.every(Number.isFinite), 'a 300-word text encodes: cut to the 64 positions');
  base.dispose();
  // Without the truncation entry, the default (256) runs past the 64 positions: the error says what to set.
  const bare = await load(encoderCopy((j) => ({ ...j, truncation: null })));
  assert.equal(getMeta(bare)?.text?.maxLength, 256);
  await assert.rejects(textEncodingFor(bare)!.encode([long]), /maxLength 256 within its positions/);
  bare.dispose();
  const set = await load(encoderCopy((j) => ({ ...j, truncation: null })), { text: { maxLength: 32 } });
  assert.equal(getMeta(set)?.text?.maxLength, 32, 'maxLength given wins');
  assert.ok((await textEncodingFor(set)!.encode([long])).every(Number.isFinite));
  set.dispose();
});

test('word-vector-only text options given for a sentence encoder are refused, naming them (they would be ignored)', async () => {
  await assert.rejects(load(ENCODER_DIR, { text: { limit: 1000 } }), /text\.limit applies to word vectors, not to the ONNX sentence encoder tiny-encoder\/model\.onnx/);
  await assert.rejects(load(ENCODER_DIR, { text: { lowercase: false, weights: 'random' } }), /text\.lowercase, text\.weights apply to word vectors/);
});
