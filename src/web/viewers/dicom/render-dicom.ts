// Turns a frame of uncompressed DICOM pixel data into RGBA for a canvas: 8- or 16-bit
// MONOCHROME1/2 (with rescale and the file's window, or the frame's full range) and 8-bit RGB.
import { dicomNumber, dicomNumbers, dicomString, type DicomFile } from './parse-dicom.ts'
import { T, transferSyntaxes } from './dicom-tags.ts'

export interface DicomImage {
  width: number
  height: number
  frames: number
  rgba: Uint8ClampedArray<ArrayBuffer>
  /** The VOI window used (modality units), for monochrome images. */
  window?: { center: number; width: number; source: 'file' | 'auto' }
}

/** Why a file's image cannot be drawn here (compressed, no pixel data, unusual layout). */
export class DicomRenderError extends Error {
  override name = 'DicomRenderError'
}

const deflated = '1.2.840.10008.1.2.1.99'
const uncompressed = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2'])

/**
 * Renders one frame to RGBA.
 * @throws DicomRenderError when the pixel data is absent, compressed or in a layout not handled
 */
export function renderDicomFrame(file: DicomFile, { frame = 0 }: { frame?: number } = {}): DicomImage {
  if (file.transferSyntax === deflated && !file.inflated) {
    throw new DicomRenderError(`The file is compressed as a whole (${transferSyntaxes[deflated]}) and not inflated yet.`)
  }
  const pixel = file.elements.get(T.PixelData)
  if (!pixel) throw new DicomRenderError(file.elements.has(T.WaveformSequence) ? 'This file holds a waveform, not an image.' : 'This file has no image (no Pixel Data element).')
  if (!(uncompressed.has(file.transferSyntax) || file.inflated) || pixel.length < 0) {
    throw new DicomRenderError(`The image is compressed (${transferSyntaxes[file.transferSyntax] ?? file.transferSyntax}); download the file to view it in a DICOM viewer.`)
  }
  const width = dicomNumber(file, T.Columns) ?? 0
  const height = dicomNumber(file, T.Rows) ?? 0
  const bits = dicomNumber(file, T.BitsAllocated) ?? 0
  const samples = dicomNumber(file, T.SamplesPerPixel) ?? 1
  const photometric = (dicomString(file, T.PhotometricInterpretation) ?? 'MONOCHROME2').toUpperCase()
  const frames = Math.max(1, Math.floor(dicomNumber(file, T.NumberOfFrames) ?? 1))
  if (!width || !height) throw new DicomRenderError('The image size (Rows, Columns) is missing.')
  const pixels = width * height
  const frameBytes = (pixels * samples * bits) / 8
  const start = pixel.offset + frame * frameBytes
  if (frame >= frames || start + frameBytes > file.bytes.length || start + frameBytes > pixel.offset + pixel.length) {
    throw new DicomRenderError('The pixel data is shorter than the image size says.')
  }
  const rgba = new Uint8ClampedArray(pixels * 4)

  if (samples === 3 && bits === 8 && (photometric === 'RGB' || photometric === 'YBR_FULL')) {
    drawColour(file, { start, pixels, ycbcr: photometric === 'YBR_FULL' }, rgba)
    return { width, height, frames, rgba }
  }

  if (samples !== 1 || (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2')) {
    throw new DicomRenderError(`Images with ${samples} samples per pixel in ${photometric} are not drawn here; download the file.`)
  }
  if (bits !== 8 && bits !== 16) throw new DicomRenderError(`${bits}-bit pixels are not drawn here; download the file.`)
  const window = drawMonochrome(file, { start, pixels, bits, frameBytes, invert: photometric === 'MONOCHROME1' }, rgba)
  return { width, height, frames, rgba, window }
}

/** 8-bit RGB (or YBR_FULL, converted), interleaved or planar, into `rgba`. */
function drawColour(file: DicomFile, { start, pixels, ycbcr }: { start: number; pixels: number; ycbcr: boolean }, rgba: Uint8ClampedArray): void {
  const planar = dicomNumber(file, T.PlanarConfiguration) === 1
  const src = file.bytes
  for (let i = 0; i < pixels; i++) {
    let r = planar ? src[start + i] : src[start + i * 3]
    let g = planar ? src[start + pixels + i] : src[start + i * 3 + 1]
    let b = planar ? src[start + 2 * pixels + i] : src[start + i * 3 + 2]
    if (ycbcr) [r, g, b] = [r + 1.402 * (b - 128), r - 0.344136 * (g - 128) - 0.714136 * (b - 128), r + 1.772 * (g - 128)]
    rgba[i * 4] = r
    rgba[i * 4 + 1] = g
    rgba[i * 4 + 2] = b
    rgba[i * 4 + 3] = 255
  }
}

/**
 * 8- or 16-bit MONOCHROME1/2 into `rgba`: stored bits, sign and rescale give modality values,
 * drawn through the file's VOI window or, without one, the frame's full range.
 * @returns the window used
 */
function drawMonochrome(file: DicomFile, { start, pixels, bits, frameBytes, invert }: { start: number; pixels: number; bits: number; frameBytes: number; invert: boolean }, rgba: Uint8ClampedArray): NonNullable<DicomImage['window']> {
  const stored = dicomNumber(file, T.BitsStored) ?? bits
  const signed = dicomNumber(file, T.PixelRepresentation) === 1
  const slope = dicomNumber(file, T.RescaleSlope) ?? 1
  const intercept = dicomNumber(file, T.RescaleIntercept) ?? 0
  const values = new Float32Array(pixels)
  const view = new DataView(file.bytes.buffer, file.bytes.byteOffset + start, frameBytes)
  const mask = stored >= 32 ? 0xffffffff : (1 << stored) - 1
  const signBit = 1 << (stored - 1)
  let min = Infinity
  let max = -Infinity
  for (let i = 0; i < pixels; i++) {
    let v = bits === 8 ? view.getUint8(i) : view.getUint16(i * 2, file.littleEndian)
    v &= mask
    if (signed && v & signBit) v -= 1 << stored
    const m = v * slope + intercept
    values[i] = m
    if (m < min) min = m
    if (m > max) max = m
  }

  const centers = dicomNumbers(file, T.WindowCenter)
  const widths = dicomNumbers(file, T.WindowWidth)
  const window = centers?.length && widths?.length && widths[0] > 0
    ? { center: centers[0], width: widths[0], source: 'file' as const }
    : { center: (min + max) / 2, width: Math.max(1, max - min), source: 'auto' as const }
  // The linear VOI function of PS3.3 C.11.2.1.2.
  const low = window.center - 0.5 - (window.width - 1) / 2
  const high = window.center - 0.5 + (window.width - 1) / 2
  for (let i = 0; i < pixels; i++) {
    const x = values[i]
    let y = x <= low ? 0 : x > high ? 255 : ((x - (window.center - 0.5)) / Math.max(1, window.width - 1) + 0.5) * 255
    if (invert) y = 255 - y
    rgba[i * 4] = y
    rgba[i * 4 + 1] = y
    rgba[i * 4 + 2] = y
    rgba[i * 4 + 3] = 255
  }
  return window
}
