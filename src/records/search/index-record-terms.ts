import { openSearchKey, SearchKeyRotatedError, writeRecordIndex } from './search-key.ts'
import type { TermExtractor } from './term-extractor.ts'
import type { Services } from '../../services.ts'

/**
 * Indexes a newly stored record in its patient's blind index: the extractor's terms become keyed
 * tokens (and a sealed term list for rotation). Never fails the upload it follows: a problem is
 * logged (without any term) and the record stays unindexed. Resolves the number of tokens.
 */
export async function indexRecordTerms(
  s: Services,
  { recordId, patientId, fileName, tags, extractor }: { recordId: string; patientId: string; fileName: string; tags?: readonly string[]; extractor: TermExtractor },
): Promise<number> {
  try {
    const terms = extractor.terms(fileName, tags)
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
    s.log('warn', `record ${recordId} not indexed for search: ${(err as Error).name} ${(err as { code?: string }).code ?? ''}`)
    return 0
  }
}
