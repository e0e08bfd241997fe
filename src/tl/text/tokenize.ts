/**
 * Word tokens for word-vector lookup, close to the tokenization GloVe's and word2vec's vocabularies
 * were built with: words (letters, digits, marks; inner hyphens and dots kept, as in "e-mail" or
 * "u.s."), English clitics split off ("do" + "n't", "it" + "'s"), and each other symbol on its own.
 * Control characters are dropped. (Sentence encoders use their own tokenizer.json instead.)
 */

const TOKEN = /[\p{L}\p{M}\p{N}]+?(?=n't\b)|n't\b|'(?:s|re|ve|ll|d|m)\b|[\p{L}\p{M}\p{N}]+(?:[-.][\p{L}\p{M}\p{N}]+)*|[^\s\p{L}\p{M}\p{N}\p{C}]/gu;

export function wordTokens(text: string, lowercase: boolean): string[] {
  let t = String(text).normalize('NFKC').replace(/[\u2018\u2019\u02bc]/g, "'");
  if (lowercase) t = t.toLowerCase();
  return t.match(TOKEN) ?? [];
}
