import { termWords } from '../../text/normalize-term.ts'
import { AppError } from '../../errors.ts'
import { maxPrefixLength, openSearchKey, prefixTokenLength, probeEntry, searchToken, termsOpener } from './search-key.ts'
import type { RecordRow } from '../record.ts'
import type { Db } from '../../db/open-database.ts'
import type { Services } from '../../services.ts'

/** Most words a query may hold. */
export const maxQueryWords = 16

/**
 * The normalized words of a query, each as the index entry it must match: a word of 3
 * characters or more as a prefix (cut to 32 characters), a shorter one exactly.
 * @throws AppError VALIDATION_FAILED when it holds no word, or more than 16
 */
export function queryWords(q: string): string[] {
  const words = [...new Set(termWords(q).map((w) => [...w].slice(0, maxPrefixLength).join('')))]
  if (words.length === 0 || words.length > maxQueryWords) {
    throw new AppError('VALIDATION_FAILED', { message: `q holds 1 to ${maxQueryWords} words of letters or digits.` })
  }
  return words
}

/**
 * Those of `candidates` whose terms match every word of `q`, in the same order. Tokens are made
 * per patient (each under that patient's search key) and looked up in the blind index; a word
 * longer than the prefixes stored as tokens is looked up by its stored prefix and each record so
 * found confirmed against its sealed term list, opened in memory with the same key. A patient
 * this node holds no key of has no match. Who may read a match is the caller's decision.
 * @throws AppError VALIDATION_FAILED (see `queryWords`)
 */
export async function matchRecords(s: Services, candidates: readonly RecordRow[], q: string): Promise<RecordRow[]> {
  const words = queryWords(q)
  const entries = [...new Set(words.map(probeEntry))]
  const long = words.filter((w) => [...w].length > prefixTokenLength)
  const byPatient = new Map<string, RecordRow[]>()
  for (const r of candidates) byPatient.set(r.patient_id, [...(byPatient.get(r.patient_id) ?? []), r])
  const matched = new Set<string>()
  for (const patientId of byPatient.keys()) {
    const key = await openSearchKey(s, patientId)
    if (!key) continue
    try {
      const tokens = entries.map((e) => searchToken(key.key, e))
      // The index is keyed by (patient, record, token): each of the patient's records is probed
      // for the query's tokens, one seek per record and token (CROSS JOIN keeps SQLite's join order:
      // records first, by records_patient; PostgreSQL plans it as an inner join).
      const rows = await s.db.all(`SELECT t.record_id FROM records r CROSS JOIN record_tokens t
        WHERE r.patient_id = ? AND t.patient_id = r.patient_id AND t.record_id = r.record_id AND t.token IN (${tokens.map(() => '?').join(', ')})
        GROUP BY t.record_id HAVING COUNT(*) = ?`, patientId, ...tokens, tokens.length) as { record_id: string }[]
      const found = rows.map((r) => r.record_id)
      for (const id of long.length > 0 ? await confirmed(s.db, key.key, patientId, found, long) : found) matched.add(id)
    } finally {
      key.key.fill(0)
    }
  }
  return candidates.filter((r) => matched.has(r.record_id))
}

/**
 * Those of `recordIds` (found by the stored prefixes of `words`) that hold, for each word, a term
 * it begins, by their term lists sealed under the patient's search key: opened here, in memory,
 * and dropped. A list that is missing or does not open is no match.
 */
async function confirmed(db: Db, key: Uint8Array, patientId: string, recordIds: readonly string[], words: readonly string[]): Promise<string[]> {
  const open = termsOpener(key)
  const out: string[] = []
  for (let i = 0; i < recordIds.length; i += 200) {
    const chunk = recordIds.slice(i, i + 200)
    const rows = await db.all(`SELECT record_id, sealed FROM record_terms WHERE patient_id = ? AND record_id IN (${chunk.map(() => '?').join(', ')})`,
      patientId, ...chunk) as { record_id: string; sealed: string }[]
    for (const r of rows) {
      let terms: string[]
      try {
        terms = open(r.record_id, r.sealed)
      } catch {
        continue
      }
      if (words.every((w) => terms.some((t) => t.startsWith(w)))) out.push(r.record_id)
    }
  }
  return out
}
