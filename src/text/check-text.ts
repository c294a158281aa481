import { AppError } from '../errors.ts'

export interface CheckTextOptions {
  /** What the text is, as the error message names it ("reason", "name"): never the value itself. */
  field: string
  /** Most characters (Unicode code points) after normalising and trimming. */
  max: number
  /** Long texts (reasons, purposes) may hold line breaks (`\n`; `\r\n` becomes `\n`); names may not. */
  multiline?: boolean
  /** The code for a text that is missing, blank or invisible: VALIDATION_FAILED unless told. */
  emptyCode?: 'VALIDATION_FAILED' | 'EMPTY_REASON'
}

/**
 * Characters no free text may hold: control characters (C0, DEL, C1), format characters (Cf:
 * zero-width spaces and joiners, bidirectional embeddings, overrides and isolates U+202A–U+202E,
 * U+2066–U+2069, marks U+200E/U+200F, U+FEFF, the soft hyphen…), lone surrogates, private-use and
 * unassigned code points, line and paragraph separators, and the Hangul fillers that render as
 * nothing. Each can hide or reorder what a reader is shown, or smuggle bytes into logs and mail.
 * Unassigned means unassigned in the Unicode version of this Node's ICU: a character newer than
 * that is refused until the runtime knows it.
 */
export const forbiddenInText = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0]/u

/** A character someone can see: not white space, not default-ignorable, not a lone combining mark, not a blank braille cell. */
export const visibleCharacter = /[^\p{White_Space}\p{Default_Ignorable_Code_Point}\p{M}\u2800]/u

/**
 * Checks a free text someone typed (a reason, a purpose, the name of an account or a hospital)
 * and returns it normalised to NFC and trimmed. Refuses a non-string, control and format
 * characters (only `\n` is allowed, and only in a multi-line text), texts that are empty or only
 * white space or invisible characters, and texts longer than `max`. The error names the field,
 * never the value.
 * @throws AppError VALIDATION_FAILED, or `emptyCode` for a missing, blank or invisible text
 */
export function checkText(value: unknown, { field, max, multiline = false, emptyCode = 'VALIDATION_FAILED' }: CheckTextOptions): string {
  const blank = () => new AppError(emptyCode, emptyCode === 'VALIDATION_FAILED' ? { message: `Give a ${field} in visible characters.` } : {})
  if (typeof value !== 'string') throw blank()
  const tooLong = () => new AppError('VALIDATION_FAILED', { message: `The ${field} is at most ${max} characters.` })
  // Bounds the work on a huge input before normalising it (NFC at most triples a text's length).
  if (value.length > max * 4 + 64) throw tooLong()
  let text = multiline ? value.replace(/\r\n?/g, '\n') : value
  text = text.normalize('NFC').trim()
  if (forbiddenInText.test(multiline ? text.replaceAll('\n', '') : text)) {
    throw new AppError('VALIDATION_FAILED', { message: `The ${field} contains control or invisible characters.` })
  }
  if (!visibleCharacter.test(text)) throw blank()
  if ([...text].length > max) throw tooLong()
  return text
}
