// A record as FHIR R4 sees it: its DocumentReference from /fhir/R4, read with the session like
// every other call of the portal, shown as the node sent it.
import { fetchFhir } from '../api/fetch-fhir.ts'
import { useLoad } from '../lib/use-load.ts'
import { prettyJson } from '../viewers/pretty-print.ts'
import { LoadState } from './ui.tsx'

/** The DocumentReference of a record (its FHIR id is the record id without 0x). */
export function FhirView({ recordId }: { recordId: string }) {
  const id = recordId.replace(/^0x/, '').toLowerCase()
  const loaded = useLoad((signal) => fetchFhir(`/DocumentReference/${encodeURIComponent(id)}`, { signal }), [id])
  return (
    <section className="fhir-view" aria-label="FHIR DocumentReference">
      <p className="hint">FHIR R4 <code>DocumentReference/{id}</code>: the file itself is <code>Binary/{id}</code>.</p>
      <LoadState loaded={loaded} what="the FHIR view">
        {(text) => <pre className="viewer-text" data-fhir-resource="DocumentReference">{prettyJson(text).text}</pre>}
      </LoadState>
    </section>
  )
}
