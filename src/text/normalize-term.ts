/**
 * A term as the search index keeps it: Unicode NFKC (compatibility forms folded: "ﬁ" → "fi",
 * full-width digits → ASCII), lower-cased (case folding), then accents removed (NFD with every
 * combining mark dropped: "Hämoglobin" → "hamoglobin"), then NFC again.
 */
export function normalizeTerm(text: string): string {
  return text.normalize('NFKC').toLowerCase().normalize('NFD').replace(/\p{M}+/gu, '').normalize('NFC')
}

/** Letters and digits, optionally joined by "-", "." or "'" ("8302-2", "e11.9", "o'brien"). */
const word = /[\p{L}\p{N}]+(?:[-.'’][\p{L}\p{N}]+)*/gu
const joiners = /[-.'’]/

/** Longest term kept; longer runs (base64, hashes) are not words anyone searches for. */
export const maxTermLength = 64

/**
 * The normalized words of `text`, as indexed and as queried alike: every run of letters and
 * digits (joined words such as codes "8302-2" kept whole, and their parts too), each at most
 * 64 characters long.
 */
export function termWords(text: string): string[] {
  const out: string[] = []
  for (const m of normalizeTerm(text).matchAll(word)) {
    const w = m[0]
    if ([...w].length > maxTermLength) continue
    out.push(w)
    if (joiners.test(w)) for (const part of w.split(joiners)) if (part !== '') out.push(part)
  }
  return out
}
