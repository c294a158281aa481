import { AppError } from '../errors.ts'
import { forbiddenInText, visibleCharacter } from './check-text.ts'

/**
 * Checks a file name as kept in a record's manifest and offered back on download: a base name,
 * normalised to NFC and trimmed, of 1 to 255 UTF-8 bytes. Refuses `.` and `..`, path separators
 * (`/`, `\`), control and format characters (bidirectional overrides and isolates
 * U+202A–U+202E, U+2066–U+2069 among them: they make `gpj.exe` read as `exe.jpg`), and a name of
 * only white space or invisible characters. The error never repeats the name.
 * @throws AppError VALIDATION_FAILED
 */
export function checkFileName(value: unknown): string {
  const refuse = () => new AppError('VALIDATION_FAILED', {
    message: 'The file name is 1 to 255 bytes of visible characters: no path separators, no control or invisible characters, not "." or "..".',
  })
  if (typeof value !== 'string' || value.length > 1024) throw refuse()
  const name = value.normalize('NFC').trim()
  if (name === '.' || name === '..' || /[/\\]/.test(name) || forbiddenInText.test(name) || !visibleCharacter.test(name)) throw refuse()
  if (Buffer.byteLength(name, 'utf8') > 255) throw refuse()
  return name
}
