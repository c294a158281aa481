// Shows a record in the page where its type allows; downloadable always. The plaintext comes
// from GET /records/:id (bearer or share token in a header) and stays in this tab's memory.
import { useEffect, useMemo, useRef, useState } from 'react'
import { fetchRecord, type FetchedRecord } from '../api/fetch-record.ts'
import { describeError } from '../api/client.ts'
import { detectKind, type DetectedKind } from './detect-kind.ts'
import { hl7Lines, prettyJson, prettyXml } from './pretty-print.ts'
import { DicomView } from './dicom-view.tsx'
import { Badge, ErrorMessage, Progress } from '../components/ui.tsx'
import { formatBytes } from '../lib/format.ts'

/** Largest text shown in the page; the rest is in the download. */
const maxTextPreview = 4 * 1024 * 1024

export interface ViewerRecord { recordId: string; fileName?: string; mediaType?: string; size?: number; sha256?: string }

interface Loaded { fetched: FetchedRecord; bytes: Uint8Array; detected: DetectedKind; shaMatches: boolean | null }

export function RecordViewer({ record, shareToken, onClose, onFailed }: { record: ViewerRecord; shareToken?: string; onClose?: () => void; onFailed?: (message: string) => void }) {
  const [progress, setProgress] = useState<{ received: number; total: number }>({ received: 0, total: record.size ?? 0 })
  const [state, setState] = useState<{ loaded?: Loaded; error?: string }>({})
  const heading = useRef<HTMLHeadingElement>(null)

  useEffect(() => {
    const controller = new AbortController()
    setState({})
    ;(async () => {
      const fetched = await fetchRecord({ recordId: record.recordId, shareToken, onProgress: setProgress, signal: controller.signal })
      const bytes = new Uint8Array(await fetched.blob.arrayBuffer())
      const detected = detectKind(bytes.subarray(0, 4096), fetched.mediaType, fetched.fileName)
      const expected = (fetched.sha256 ?? record.sha256 ?? '').toLowerCase()
      let shaMatches: boolean | null = null
      if (expected && globalThis.crypto?.subtle) {
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
        shaMatches = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') === expected.replace(/^0x/, '')
      }
      return { fetched, bytes, detected, shaMatches }
    })().then(
      (loaded) => { if (!controller.signal.aborted) setState({ loaded }) },
      (err: unknown) => {
        if (controller.signal.aborted) return
        setState({ error: describeError(err) })
        onFailed?.(describeError(err))
      },
    )
    return () => controller.abort()
  }, [record.recordId, shareToken, record.sha256])

  useEffect(() => heading.current?.focus(), [record.recordId])

  const name = state.loaded?.fetched.fileName ?? record.fileName ?? record.recordId
  return (
    <section className="viewer card" aria-labelledby="viewer-title">
      <header className="viewer-head">
        <h3 id="viewer-title" tabIndex={-1} ref={heading}>{name}</h3>
        <div className="row">
          {state.loaded && <DownloadButton fetched={state.loaded.fetched} />}
          {onClose && <button type="button" className="btn" onClick={onClose}>Close</button>}
        </div>
      </header>
      {!state.loaded && !state.error && (
        <Progress label="Fetching, checking against the ledger and decrypting" value={progress.total ? progress.received / progress.total : undefined}
          detail={progress.total ? `${formatBytes(progress.received)} of ${formatBytes(progress.total)}` : 'waiting for the node'} />
      )}
      <ErrorMessage>{state.error}</ErrorMessage>
      {state.loaded && (
        <>
          <p className="viewer-facts">
            {state.loaded.fetched.mediaType} · {formatBytes(state.loaded.bytes.byteLength)} ·{' '}
            {state.loaded.shaMatches === true && <Badge tone="ok" title="Every stored block was re-hashed against the ledger anchor before the node sent it, and this content's SHA-256 matches the record's manifest.">Verified · SHA-256 matches</Badge>}
            {state.loaded.shaMatches === false && <Badge tone="bad">SHA-256 does not match the manifest</Badge>}
            {state.loaded.shaMatches === null && <Badge tone="ok" title="Every stored block was re-hashed against the ledger anchor before the node sent it.">Checked against the ledger</Badge>}
          </p>
          <Preview loaded={state.loaded} />
        </>
      )}
    </section>
  )
}

function DownloadButton({ fetched }: { fetched: FetchedRecord }) {
  const save = () => {
    // Always as an opaque download: the browser never interprets a record as part of this site.
    const url = URL.createObjectURL(new Blob([fetched.blob], { type: 'application/octet-stream' }))
    const a = document.createElement('a')
    a.href = url
    a.download = fetched.fileName
    document.body.append(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(url), 60_000)
  }
  return <button type="button" className="btn btn-primary" onClick={save}>Download</button>
}

function useObjectUrl(bytes: Uint8Array, type: string | undefined): string | undefined {
  const url = useMemo(() => (type ? URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type })) : undefined), [bytes, type])
  useEffect(() => () => { if (url) URL.revokeObjectURL(url) }, [url])
  return url
}

function Preview({ loaded }: { loaded: Loaded }) {
  const { bytes, detected } = loaded
  const url = useObjectUrl(bytes, detected.kind === 'image' || detected.kind === 'pdf' ? detected.blobType : undefined)
  const text = useMemo(() => {
    if (!['json', 'xml', 'hl7', 'text'].includes(detected.kind)) return undefined
    const cut = bytes.byteLength > maxTextPreview
    const raw = new TextDecoder('utf-8').decode(bytes.subarray(0, maxTextPreview)).replace(/^\uFEFF/, '')
    let shown = raw
    if (!cut && detected.kind === 'json') shown = prettyJson(raw).text
    if (!cut && detected.kind === 'xml') shown = prettyXml(raw)
    if (detected.kind === 'hl7') shown = hl7Lines(raw)
    return { shown, raw, cut }
  }, [bytes, detected.kind])

  switch (detected.kind) {
    case 'dicom':
      return <DicomView bytes={bytes} />
    case 'image':
      return <img className="viewer-image" src={url} alt="The record's image" />
    case 'pdf':
      // Chromium will not run its PDF viewer in a sandboxed frame; the blob's type is fixed
      // to application/pdf above, so the frame can only ever hold the PDF viewer.
      return <iframe className="viewer-pdf" src={url} title="The record (PDF)" />
    case 'binary':
      return <p className="msg msg-info">This file cannot be shown in the page. Download it to open it with the right program.</p>
    default:
      return (
        <>
          {detected.kind === 'xml' && text && <ClinicalDocumentSummary xml={text.raw} />}
          {text?.cut && <p className="msg msg-warn">Only the first {formatBytes(maxTextPreview)} are shown; download the file for the rest.</p>}
          <pre className="viewer-text" tabIndex={0} aria-label={`The record's ${detected.kind === 'text' ? 'text' : detected.kind.toUpperCase()}`}>{text?.shown}</pre>
        </>
      )
  }
}

/** For an HL7 C-CDA document: its title, patient and section titles above the XML. */
function ClinicalDocumentSummary({ xml }: { xml: string }) {
  const summary = useMemo(() => {
    if (!/<ClinicalDocument[\s>]/.test(xml.slice(0, 2000))) return undefined
    const doc = new DOMParser().parseFromString(xml, 'application/xml')
    if (doc.getElementsByTagName('parsererror').length) return undefined
    const root = doc.documentElement
    const child = (el: Element | undefined | null, name: string) => el ? Array.from(el.children).find((c) => c.localName === name) : undefined
    const title = child(root, 'title')?.textContent?.trim()
    const patient = child(child(child(child(root, 'recordTarget'), 'patientRole'), 'patient'), 'name')
    const patientName = patient ? Array.from(patient.children).map((c) => c.textContent?.trim()).filter(Boolean).join(' ') : undefined
    const sections = Array.from(doc.getElementsByTagNameNS('*', 'section'))
      .map((s) => child(s, 'title')?.textContent?.trim())
      .filter((t): t is string => Boolean(t))
    return { title, patientName, sections }
  }, [xml])
  if (!summary) return null
  return (
    <div className="cda-summary">
      <p><strong>{summary.title ?? 'Clinical document'}</strong>{summary.patientName ? ` — ${summary.patientName}` : ''}</p>
      {summary.sections.length > 0 && (
        <p className="hint">Sections: {summary.sections.join(' · ')}</p>
      )}
    </div>
  )
}
