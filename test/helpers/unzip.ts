import assert from 'node:assert/strict'
import { crc32 as zlibCrc32 } from 'node:zlib'

/** Reads a stored ZIP by its central directory, as an unzip tool does, checking each local header and CRC-32 with zlib's. */
export function unzip(zip: Uint8Array): Map<string, Buffer> {
  const b = Buffer.from(zip)
  const end = b.length - 22
  assert.equal(b.readUInt32LE(end), 0x06054b50, 'end of central directory')
  const count = b.readUInt16LE(end + 10)
  let at = b.readUInt32LE(end + 16)
  assert.equal(at + b.readUInt32LE(end + 12), end, 'central directory size and offset')
  const out = new Map<string, Buffer>()
  for (let i = 0; i < count; i++) {
    assert.equal(b.readUInt32LE(at), 0x02014b50)
    const [method, crc, size, nameLength, local] = [b.readUInt16LE(at + 10), b.readUInt32LE(at + 16), b.readUInt32LE(at + 24), b.readUInt16LE(at + 28), b.readUInt32LE(at + 42)]
    const name = b.subarray(at + 46, at + 46 + nameLength).toString('utf8')
    assert.equal(method, 0)
    assert.equal(b.readUInt32LE(local), 0x04034b50)
    assert.equal(b.subarray(local + 30, local + 30 + b.readUInt16LE(local + 26)).toString('utf8'), name)
    const data = b.subarray(local + 30 + b.readUInt16LE(local + 26) + b.readUInt16LE(local + 28), local + 30 + b.readUInt16LE(local + 26) + b.readUInt16LE(local + 28) + size)
    assert.equal(zlibCrc32(data), crc, `${name}: CRC-32`)
    out.set(name, data)
    at += 46 + nameLength + b.readUInt16LE(at + 30) + b.readUInt16LE(at + 32)
  }
  return out
}

