import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { checkText } from './check-text.ts'
import { checkFileName } from './check-file-name.ts'
import { isAppError, type ErrorCode } from '../errors.ts'

const refused = (code: ErrorCode, field?: string) => (err: unknown) => {
  assert.ok(isAppError(err, code), `expected ${code}, got ${String(err)}`)
  if (field) assert.match((err as Error).message, new RegExp(`\\b${field}\\b`))
  return true
}

describe('checkText: free texts are visible, single-line unless long, NFC, trimmed', () => {
  const name = (v: unknown) => checkText(v, { field: 'name', max: 20 })
  const reason = (v: unknown) => checkText(v, { field: 'reason', max: 20, multiline: true, emptyCode: 'EMPTY_REASON' })

  const good: [string, string, string][] = [
    ['plain', 'Dr Ada Lovelace', 'Dr Ada Lovelace'],
    ['trimmed', '  St Mary  ', 'St Mary'],
    ['accents, NFD becomes NFC', 'Jose\u0301', 'José'],
    ['non-Latin scripts', 'Ζωή 王芳 Дарья', 'Ζωή 王芳 Дарья'],
    ['no-break space inside', 'Anne\u00a0Marie', 'Anne\u00a0Marie'],
    ['an emoji with a variation selector', 'Clinic \u2764\ufe0f', 'Clinic \u2764\ufe0f'],
    ['a leading byte-order mark is trimmed away', '\ufeffBob', 'Bob'],
    ['exactly max code points (astral counts once)', '𝒜'.repeat(20), '𝒜'.repeat(20)],
  ]
  for (const [what, input, output] of good) {
    it(`accepts ${what}`, () => assert.equal(name(input), output))
  }

  const bad: [string, unknown, ErrorCode][] = [
    ['NUL', 'Bob\u0000', 'VALIDATION_FAILED'],
    ['only NUL', '\u0000', 'VALIDATION_FAILED'],
    ['a tab inside', 'Bob\tSmith', 'VALIDATION_FAILED'],
    ['a line break in a name', 'Bob\nSmith', 'VALIDATION_FAILED'],
    ['DEL', 'Bob\u007f', 'VALIDATION_FAILED'],
    ['a C1 control (NEL)', 'Bob\u0085Smith', 'VALIDATION_FAILED'],
    ['a C1 control (CSI)', 'Bob\u009b31m', 'VALIDATION_FAILED'],
    ['right-to-left override', 'Bob\u202etxt.exe', 'VALIDATION_FAILED'],
    ['left-to-right embedding', '\u202aBob', 'VALIDATION_FAILED'],
    ['isolates U+2066–U+2069', 'Bob\u2066x\u2069', 'VALIDATION_FAILED'],
    ['first strong isolate', 'Bob\u2068', 'VALIDATION_FAILED'],
    ['zero-width space', 'Bo\u200bb', 'VALIDATION_FAILED'],
    ['zero-width joiner', 'Bo\u200db', 'VALIDATION_FAILED'],
    ['right-to-left mark', 'Bob\u200f', 'VALIDATION_FAILED'],
    ['a byte-order mark inside', 'Bo\ufeffb', 'VALIDATION_FAILED'],
    ['a soft hyphen', 'Bo\u00adb', 'VALIDATION_FAILED'],
    ['a word joiner', 'Bo\u2060b', 'VALIDATION_FAILED'],
    ['a line separator', 'Bob\u2028Smith', 'VALIDATION_FAILED'],
    ['a lone high surrogate', 'Bob\ud800', 'VALIDATION_FAILED'],
    ['a lone low surrogate', '\udc00Bob', 'VALIDATION_FAILED'],
    ['a private-use character', 'Bob\ue000', 'VALIDATION_FAILED'],
    ['an unassigned code point', 'Bob\u0378', 'VALIDATION_FAILED'],
    ['a Hangul filler', '\u3164', 'VALIDATION_FAILED'],
    ['empty', '', 'VALIDATION_FAILED'],
    ['only spaces', '   ', 'VALIDATION_FAILED'],
    ['only ideographic spaces', '\u3000\u3000', 'VALIDATION_FAILED'],
    ['only a combining mark', '\u0301', 'VALIDATION_FAILED'],
    ['only a blank braille cell', '\u2800', 'VALIDATION_FAILED'],
    ['only a variation selector', '\ufe0f', 'VALIDATION_FAILED'],
    ['not a string', 42, 'VALIDATION_FAILED'],
    ['missing', undefined, 'VALIDATION_FAILED'],
    ['one code point over max', 'a'.repeat(21), 'VALIDATION_FAILED'],
    ['a huge text', 'a'.repeat(1_000_000), 'VALIDATION_FAILED'],
  ]
  for (const [what, input, code] of bad) {
    it(`refuses ${what} with ${code}, naming the field and not the value`, () => {
      assert.throws(() => name(input), (err: unknown) => {
        refused(code, 'name')(err)
        if (typeof input === 'string' && input.trim().length > 0) assert.ok(!(err as Error).message.includes(input.slice(0, 3)))
        return true
      })
    })
  }

  it('a long text keeps its line breaks (CRLF becomes LF) and refuses every other control', () => {
    assert.equal(reason('Fell.\r\nUnconscious.'), 'Fell.\nUnconscious.')
    assert.throws(() => reason('Fell.\u0000'), refused('VALIDATION_FAILED', 'reason'))
    assert.throws(() => reason('Fell.\u000bAgain'), refused('VALIDATION_FAILED', 'reason'))
    assert.throws(() => reason('\u202eFell.'), refused('VALIDATION_FAILED', 'reason'))
  })

  it('a blank or invisible reason answers its own empty code', () => {
    assert.throws(() => reason('\n\n  \n'), refused('EMPTY_REASON'))
    assert.throws(() => reason(undefined), refused('EMPTY_REASON'))
    assert.throws(() => reason('\u200b'), refused('VALIDATION_FAILED', 'reason'), 'an invisible format character is refused as such')
  })
})

describe('checkFileName: a visible base name of at most 255 UTF-8 bytes', () => {
  const good: [string, string, string][] = [
    ['plain', 'scan.dcm', 'scan.dcm'],
    ['spaces inside, trimmed', '  lab results 2024.pdf ', 'lab results 2024.pdf'],
    ['a dot file', '.hidden', '.hidden'],
    ['dots inside', 'a..b', 'a..b'],
    ['non-Latin', 'Röntgen 胸部.dcm', 'Röntgen 胸部.dcm'],
    ['NFD becomes NFC', 'Jose\u0301.txt', 'José.txt'],
    ['255 bytes', `${'é'.repeat(125)}.txt1`, `${'é'.repeat(125)}.txt1`],
  ]
  for (const [what, input, output] of good) {
    it(`accepts ${what}`, () => assert.equal(checkFileName(input), output))
  }
  const bad: [string, unknown][] = [
    ['empty', ''],
    ['blank', '   '],
    ['.', '.'],
    ['..', '..'],
    ['.. with spaces', ' .. '],
    ['a slash', 'a/b.txt'],
    ['a path', '../../etc/passwd'],
    ['a backslash', 'C:\\x\\y.txt'],
    ['NUL', 'a\u0000.txt'],
    ['a line break', 'a\n.txt'],
    ['a C1 control', 'a\u0090.txt'],
    ['right-to-left override', 'photo\u202egpj.exe'],
    ['left-to-right override', '\u202dphoto.jpg'],
    ['pop directional formatting', 'photo\u202c.jpg'],
    ['right-to-left isolate', '\u2067photo.jpg'],
    ['pop directional isolate', 'photo\u2069.jpg'],
    ['only invisible', '\u200b\u200b'],
    ['only a Hangul filler', '\u3164'],
    ['a lone surrogate', 'a\ud800.txt'],
    ['256 bytes', `${'é'.repeat(126)}.txt`],
    ['256 ASCII characters', 'a'.repeat(256)],
    ['not a string', null],
  ]
  for (const [what, input] of bad) {
    it(`refuses ${what}`, () => assert.throws(() => checkFileName(input), refused('VALIDATION_FAILED', 'file name')))
  }
})
