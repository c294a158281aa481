import { openSearchKey, putRecordIndex, recordIndexEntry, SearchKeyRotatedError, writeRecordIndex, type RecordIndexEntry } from './search-key.ts'
import { extractLabelTerms } from './extract-terms.ts'
import type { Db } from '../../db/open-database.ts'
import type { Services } from '../../services.ts'

/** A new record's terms, and its index entry when the patient's search key opened. */
export interface PreparedIndex { terms: string[]; entry?: RecordIndexEntry }

/**
 * A new record's terms (its content's, awaited here from the term worker's `end`, the file
 * name's and the tags') and its index entry, made before its row is written so that row and
 * index go to the database in one transaction (`writePreparedIndex`). Never fails the upload: a
 * problem is logged (without any term) and the entry left out.
 */
export async function prepareRecordIndex(
  s: Services,
  { recordId, patientId, fileName, tags, content }: { recordId: string; patientId: string; fileName: string; tags?: readonly string[]; content: Promise<ReadonlySet<string>> },
): Promise<PreparedIndex> {
  let terms: string[] = []
  try {
    terms = [...new Set([...await content, ...extractLabelTerms(fileName, tags)])].sort()
    const key = await openSearchKey(s, patientId)
    if (!key) return { terms }
    try {
      // On the term worker's thread when it is up (the key copied there): the HMACs off this one.
      const made = await s.termWorker?.indexEntry?.({ key: key.key, recordId, terms })
      return { terms, entry: made ? { patientId, version: key.version, recordId, ...made } : recordIndexEntry(key, recordId, terms) }
    } finally {
      key.key.fill(0)
    }
  } catch (err) {
    logUnindexed(s, recordId, err)
    return { terms }
  }
}

/**
 * Writes a prepared entry within the transaction `tx` that writes the record's row. Resolves
 * false when there is none or the key was rotated since it was made: the record is then indexed
 * afterwards by `indexRecordTerms`. Errors of the database propagate (the row fails with it).
 */
export async function writePreparedIndex(tx: Db, prepared: PreparedIndex | undefined): Promise<boolean> {
  return prepared?.entry ? putRecordIndex(tx, prepared.entry) : false
}

/**
 * Indexes a stored record in its patient's blind index: its terms become keyed tokens (and a
 * sealed term list for rotation), in a transaction of their own. Never fails the upload it
 * follows: a problem is logged (without any term) and the record stays unindexed. Resolves the
 * number of tokens.
 */
export async function indexRecordTerms(s: Services, { recordId, patientId, terms }: { recordId: string; patientId: string; terms: readonly string[] }): Promise<number> {
  try {
    // Once more with the new key when a rotation came in between.
    for (let attempt = 0; ; attempt++) {
      const key = await openSearchKey(s, patientId)
      if (!key) return 0
      try {
        return await writeRecordIndex(s.db, key, recordId, terms)
      } catch (err) {
        if (!(err instanceof SearchKeyRotatedError) || attempt > 0) throw err
      } finally {
        key.key.fill(0)
      }
    }
  } catch (err) {
    logUnindexed(s, recordId, err)
    return 0
  }
}

function logUnindexed(s: Services, recordId: string, err: unknown): void {
  s.log('warn', `record ${recordId} not indexed for search: ${(err as Error).name} ${(err as { code?: string }).code ?? ''}`)
}
