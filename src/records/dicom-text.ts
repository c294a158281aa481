import type * as dicomParserModule from 'dicom-parser'

/** Specific Character Set (0008,0005) defined terms → WHATWG encodings (PS3.3 C.12.1.1.2, PS3.5 6.1). */
const encodings: Record<string, string> = {
  'ISO_IR 100': 'iso-8859-1', 'ISO_IR 101': 'iso-8859-2', 'ISO_IR 109': 'iso-8859-3', 'ISO_IR 110': 'iso-8859-4',
  'ISO_IR 144': 'iso-8859-5', 'ISO_IR 127': 'iso-8859-6', 'ISO_IR 126': 'iso-8859-7', 'ISO_IR 138': 'iso-8859-8',
  'ISO_IR 148': 'iso-8859-9', 'ISO_IR 166': 'windows-874', 'ISO_IR 13': 'shift_jis', 'ISO_IR 192': 'utf-8',
  'GB18030': 'gb18030', 'GBK': 'gbk',
  'ISO 2022 IR 100': 'iso-8859-1', 'ISO 2022 IR 101': 'iso-8859-2', 'ISO 2022 IR 144': 'iso-8859-5',
  'ISO 2022 IR 126': 'iso-8859-7', 'ISO 2022 IR 148': 'iso-8859-9',
  // Multi-byte sets reached by ISO 2022 escapes: JIS X 0208 is what iso-2022-jp decodes; KS X 1001
  // and GB 2312 arrive in G1 with the high bit set, i.e. EUC-KR and GBK bytes once the escapes go.
  'ISO 2022 IR 87': 'iso-2022-jp', 'ISO 2022 IR 159': 'iso-2022-jp', 'ISO 2022 IR 149': 'euc-kr', 'ISO 2022 IR 58': 'gbk',
}

// ESC, intermediate bytes, a final byte: an ISO 2022 designation.
const ESCAPES = /\x1b[\x20-\x2f]*[\x30-\x7e]/g

/**
 * A text attribute of a DICOM data set, decoded in the data set's Specific Character Set
 * (dicom-parser's `string()` reads one character per byte, so UTF-8 "Knöchel" came out "KnÃ¶chel").
 * Without one, or with a set it does not know, the bytes are read as dicom-parser reads them.
 * Padding (spaces, NULs) is trimmed; `undefined` when the attribute is absent or empty.
 */
export function dicomText(ds: dicomParserModule.DataSet, tag: string): string | undefined {
  const element = ds.elements[tag]
  if (!element || element.length === 0) return undefined
  const sets = (ds.string('x00080005') ?? '').split('\\').map((s) => s.trim()).filter(Boolean)
  // The last named set that needs decoding wins: "ISO 2022 IR 6\ISO 2022 IR 87" is Japanese.
  const encoding = sets.map((s) => encodings[s]).filter(Boolean).at(-1)
  if (!encoding) return ds.string(tag) || undefined
  const raw = ds.byteArray.subarray(element.dataOffset, element.dataOffset + element.length)
  const bytes = encoding === 'iso-2022-jp' || !sets.some((s) => s.startsWith('ISO 2022'))
    ? raw
    : Buffer.from(Buffer.from(raw).toString('latin1').replace(ESCAPES, ''), 'latin1')
  return new TextDecoder(encoding).decode(bytes).replace(/[\0 ]+$/, '').trim() || undefined
}
