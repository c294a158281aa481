import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { swapRanges } from '../../../../test/helpers/swap-ranges.ts'
import { DicomParseError, dicomNumbers, dicomString, parseDicom, type DicomFile } from './parse-dicom.ts'

const fixture = (name: string) => new Uint8Array(readFileSync(fileURLToPath(new URL(`../../../../../shared/fixtures/dicom/${name}`, import.meta.url))))
const fixtures = ['CT_small.dcm', 'MR_small.dcm', 'waveform_ecg.dcm'].map(fixture)

/** Fixed seed and bounded runs: the same inputs on every run. */
const runs = { seed: 0x5eed_0005, numRuns: 300 }

/** Parses and reads every element as the viewer would: a DicomFile, or a DicomParseError; nothing else. */
function parseAndRead(bytes: Uint8Array): DicomFile | DicomParseError {
  try {
    const file = parseDicom(bytes)
    for (const tag of file.elements.keys()) {
      dicomString(file, tag)
      dicomNumbers(file, tag)
    }
    return file
  } catch (err) {
    assert.ok(err instanceof DicomParseError, `expected DicomParseError, got ${(err as Error)?.stack ?? String(err)}`)
    return err
  }
}

const le16 = (n: number) => [n & 0xff, (n >> 8) & 0xff]
const le32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff]
const preamble = [...new Array(128).fill(0), 0x44, 0x49, 0x43, 0x4d]

describe('DICOM header reader under random and mutated input', () => {
  it('random bytes behind a DICM preamble: a parsed file or DicomParseError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (rest) => {
      parseAndRead(new Uint8Array([...preamble, ...rest]))
    }), runs)
  })

  it('random elements (any tag, VR and length, huge and undefined lengths included): a parsed file or DicomParseError', () => {
    const element = fc.tuple(
      fc.oneof(fc.constantFrom(0x0002, 0x0008, 0x0010, 0x0028, 0x7fe0, 0xfffe), fc.integer({ min: 0, max: 0xffff })),
      fc.oneof(fc.constantFrom(0x0010, 0x0020, 0xe000, 0xe00d, 0xe0dd), fc.integer({ min: 0, max: 0xffff })),
      fc.constantFrom('SQ', 'UN', 'OB', 'OW', 'US', 'UL', 'FD', 'DS', 'IS', 'PN', 'UI', 'XX'),
      fc.oneof(fc.constant(0xffffffff), fc.constant(0x7fffffff), fc.integer({ min: 0, max: 64 })),
      fc.uint8Array({ maxLength: 40 }),
    ).map(([group, el, vr, length, value]) => [...le16(group), ...le16(el), vr.charCodeAt(0), vr.charCodeAt(1), ...le16(0), ...le32(length), ...value])
    fc.assert(fc.property(fc.array(element, { maxLength: 30 }), (elements) => {
      parseAndRead(new Uint8Array([...preamble, ...elements.flat()]))
    }), runs)
  })

  it('bit flips, truncations, overwritten lengths and reordered ranges of the fixtures: a parsed file or DicomParseError', () => {
    fc.assert(fc.property(
      fc.constantFrom(...fixtures.keys()),
      fc.array(fc.oneof(
        fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
        fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
        fc.record({ kind: fc.constant('length' as const), at: fc.nat(), value: fc.constantFrom(0xffffffff, 0xfffffffe, 0x80000000, 0xffff) }),
        fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat(), length: fc.integer({ min: 1, max: 256 }) }),
      ), { minLength: 1, maxLength: 4 }),
      (which, mutations) => {
        let b = new Uint8Array(fixtures[which]!)
        for (const m of mutations) {
          if (b.length < 8) break
          if (m.kind === 'flip') b[m.at % b.length]! ^= 1 << m.bit
          else if (m.kind === 'truncate') b = b.slice(0, m.at % b.length)
          else if (m.kind === 'length') new DataView(b.buffer, b.byteOffset).setUint32(Math.max(0, m.at % b.length - 4), m.value, true)
          else swapRanges(b, m.a, m.b, m.length)
        }
        parseAndRead(b)
      },
    ), runs)
  })

  it('sequences nested beyond any real file end in DicomParseError, not a stack overflow', () => {
    // Each level: a sequence of undefined length holding an item of undefined length.
    const depth = 20_000
    const open = [...le16(0x0008), ...le16(0x1111), 0x53, 0x51, 0, 0, ...le32(0xffffffff), ...le16(0xfffe), ...le16(0xe000), ...le32(0xffffffff)]
    const bytes = new Uint8Array(preamble.length + open.length * depth)
    bytes.set(preamble)
    for (let i = 0; i < depth; i++) bytes.set(open, preamble.length + i * open.length)
    assert.throws(() => parseDicom(bytes), DicomParseError)
  })
})
