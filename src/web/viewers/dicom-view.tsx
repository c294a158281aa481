// DICOM in the page: the header fields a clinician looks for, and the image drawn on a canvas
// when its pixel data is uncompressed.
import { useEffect, useMemo, useRef, useState } from 'react'
import { DEFLATED, dicomString, formatDicomDate, formatDicomTime, formatPersonName, inflateDicom, parseDicom, type DicomFile } from './dicom/parse-dicom.ts'
import { DicomRenderError, renderDicomFrame, type DicomImage } from './dicom/render-dicom.ts'
import { T, sopClasses, tagInfo, transferSyntaxes } from './dicom/dicom-tags.ts'
import { ErrorMessage } from '../components/ui.tsx'

const shown = [
  T.PatientName, T.PatientID, T.PatientBirthDate, T.PatientSex, T.PatientAge,
  T.Modality, T.SOPClassUID, T.StudyDate, T.StudyTime, T.StudyDescription, T.SeriesDescription, T.BodyPartExamined,
  T.InstitutionName, T.Manufacturer, T.ManufacturerModelName,
  T.Rows, T.Columns, T.NumberOfFrames, T.BitsAllocated, T.PhotometricInterpretation, T.PixelSpacing, T.SliceThickness,
  T.WindowCenter, T.WindowWidth, T.TransferSyntaxUID, T.StudyInstanceUID,
]

function display(file: DicomFile, t: number): string | undefined {
  const v = dicomString(file, t)
  if (v === undefined || v === '') return undefined
  const vr = tagInfo[t]?.vr
  if (vr === 'PN') return formatPersonName(v)
  if (vr === 'DA') return formatDicomDate(v)
  if (vr === 'TM') return formatDicomTime(v)
  if (t === T.TransferSyntaxUID) return transferSyntaxes[v] ? `${transferSyntaxes[v]} (${v})` : v
  if (t === T.SOPClassUID) return sopClasses[v] ?? v
  return v.replace(/\\/g, ' \\ ')
}

export function DicomView({ bytes }: { bytes: Uint8Array }) {
  const parsed = useMemo(() => {
    try {
      return { file: parseDicom(bytes) }
    } catch (err) {
      return { error: (err as Error).message }
    }
  }, [bytes])
  // A deflated file's data set is inflated here, off the render: until then only its meta group shows.
  // (kept with the bytes it was made of: another file's never shows, even for one render)
  const [inflatedOf, setInflated] = useState<{ bytes: Uint8Array; file?: DicomFile; error?: string }>()
  useEffect(() => {
    if (parsed.file?.transferSyntax !== DEFLATED) return
    let live = true
    inflateDicom(bytes).then((whole) => parseDicom(whole, { inflated: true })).then(
      (file) => { if (live) setInflated({ bytes, file }) },
      (err: unknown) => { if (live) setInflated({ bytes, error: (err as Error).message }) },
    )
    return () => { live = false }
  }, [parsed, bytes])
  const inflated = inflatedOf?.bytes === bytes ? inflatedOf : undefined
  const shownFile = inflated?.file ?? parsed.file
  const image = useMemo((): { image?: DicomImage; why?: string } => {
    if (!shownFile) return {}
    if (shownFile.transferSyntax === DEFLATED && !shownFile.inflated) return { why: inflated?.error ?? 'Inflating the deflated data set…' }
    try {
      return { image: renderDicomFrame(shownFile) }
    } catch (err) {
      return { why: err instanceof DicomRenderError ? err.message : `The image could not be drawn: ${(err as Error).message}` }
    }
  }, [shownFile, inflated])
  const canvas = useRef<HTMLCanvasElement>(null)
  useEffect(() => {
    const img = image.image
    const ctx = canvas.current?.getContext('2d')
    if (!img || !ctx) return
    ctx.putImageData(new ImageData(img.rgba, img.width, img.height), 0, 0)
  }, [image])

  if (parsed.error || !shownFile) return <ErrorMessage>{parsed.error}</ErrorMessage>
  const file = shownFile
  const rows = shown.map((t) => [tagInfo[t].name, display(file, t)] as const).filter(([, v]) => v !== undefined)
  const modality = dicomString(file, T.Modality)
  return (
    <div className="dicom">
      <div className="dicom-image">
        {image.image ? (
          <figure>
            <canvas ref={canvas} width={image.image.width} height={image.image.height} role="img"
              aria-label={`${modality ?? 'DICOM'} image, ${image.image.width} by ${image.image.height} pixels`} data-testid="dicom-canvas" />
            <figcaption>
              {image.image.width} × {image.image.height}
              {image.image.frames > 1 ? `, frame 1 of ${image.image.frames}` : ''}
              {image.image.window ? ` · window ${Math.round(image.image.window.center)} / ${Math.round(image.image.window.width)} (${image.image.window.source === 'file' ? 'from the file' : 'full range'})` : ''}
            </figcaption>
          </figure>
        ) : (
          <p className="msg msg-info">{image.why}</p>
        )}
      </div>
      <table className="kv dicom-header" aria-label="DICOM header">
        <tbody>
          {rows.map(([name, value]) => (
            <tr key={name}><th scope="row">{name}</th><td>{value}</td></tr>
          ))}
        </tbody>
      </table>
      {file.truncated && <p className="msg msg-warn">The file ends early: only what could be read is shown.</p>}
    </div>
  )
}
