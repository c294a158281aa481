import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { keccak256, zeroAddress, zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { registryAbi, researchAbi } from '../../src/ledger/abis.ts'
import { expectRevert, noFees, startTestChain, type TestChain, type Wallet } from '../helpers/test-chain.ts'

const Role = { Staff: 1, Doctor: 2, Patient: 3, Researcher: 4 } as const
const Study = { None: 0, Proposed: 1, Approved: 2, Rejected: 3 } as const
const X25519 = 1
const hash = (label: string): Hex => keccak256(new TextEncoder().encode(label))
const randomId = (): Hex => generatePrivateKey()

describe('Research: studies, research consent (HRESCH) and exports', () => {
  let t: TestChain
  let registry: Address
  let research: Address
  const w: Record<string, Wallet> = {}
  const addr = (name: string): Address => w[name]!.account.address
  const write = (by: string, functionName: string, args: readonly unknown[]) =>
    w[by]!.writeContract({ address: research, abi: researchAbi, functionName, args, ...noFees } as never) as Promise<Hex>
  const events = async (by: string, functionName: string, args: readonly unknown[]) => (await t.eventsOf(await write(by, functionName, args), researchAbi, research)).events
  const studyOf = (id: Hex) => t.client.readContract({ address: research, abi: researchAbi, functionName: 'studyOf', args: [id] })
  const hasConsent = (id: Hex, who: string) => t.client.readContract({ address: research, abi: researchAbi, functionName: 'hasConsent', args: [id, addr(who)] })

  before(async () => {
    t = await startTestChain()
    for (const name of ['admin', 'hospitalA', 'staffA', 'doctorA', 'patientA', 'patientB', 'researcher', 'pendingResearcher', 'researcher2', 'stranger']) w[name] = t.newWallet()
    registry = (await t.deploy(w.admin!, 'Registry', [addr('admin')])).address
    research = (await t.deploy(w.admin!, 'Research', [registry])).address
    const reg = async (by: string, functionName: string, args: readonly unknown[]) =>
      t.eventsOf(await w[by]!.writeContract({ address: registry, abi: registryAbi, functionName, args, ...noFees } as never) as Hex, registryAbi, registry)
    await reg('admin', 'addHospital', [addr('hospitalA'), X25519, hash('emergency key A')])
    await reg('admin', 'registerAccount', [addr('staffA'), Role.Staff, addr('hospitalA'), X25519, hash('staffA')])
    for (const [who, role] of [['doctorA', Role.Doctor], ['patientA', Role.Patient], ['patientB', Role.Patient], ['researcher', Role.Researcher], ['researcher2', Role.Researcher]] as const) {
      await reg('staffA', 'registerAccount', [addr(who), role, addr('hospitalA'), X25519, hash(who)])
    }
    await reg('pendingResearcher', 'requestRegistration', [Role.Researcher, addr('hospitalA'), X25519, hash('pendingResearcher')])
  })
  after(() => t?.stop())

  test('only the admin links the Research contract in the Registry, once, and only one bound to it', async () => {
    const link = (by: string, target: Address) => w[by]!.writeContract({ address: registry, abi: registryAbi, functionName: 'linkResearch', args: [target], ...noFees })
    await expectRevert(link('staffA', research), 'RegistryUnauthorized', [addr('staffA')])
    await expectRevert(link('admin', zeroAddress), 'RegistryZeroAddress')
    const foreign = (await t.deploy(w.admin!, 'Research', [addr('stranger')])).address
    await expectRevert(link('admin', foreign), 'RegistryForeignContract', [foreign])
    const { events: linked } = await t.eventsOf(await link('admin', research), registryAbi, registry)
    assert.deepEqual(linked, [{ eventName: 'ResearchLinked', args: { research } }])
    assert.equal(await t.client.readContract({ address: registry, abi: registryAbi, functionName: 'research' }), research)
    await expectRevert(link('admin', research), 'RegistryAlreadyLinked')
  })

  test('only an active researcher proposes, with non-zero values, once per id', async () => {
    const id = randomId()
    for (const who of ['doctorA', 'patientA', 'staffA', 'admin', 'pendingResearcher', 'stranger']) {
      await expectRevert(write(who, 'proposeStudy', [id, hash('protocol')]), 'ResearchUnauthorized', [addr(who)])
    }
    await expectRevert(write('researcher', 'proposeStudy', [zeroHash, hash('protocol')]), 'ResearchZeroValue')
    await expectRevert(write('researcher', 'proposeStudy', [id, zeroHash]), 'ResearchZeroValue')
    assert.deepEqual(await events('researcher', 'proposeStudy', [id, hash('protocol')]), [
      { eventName: 'StudyProposed', args: { studyId: id, researcher: addr('researcher'), hospital: addr('hospitalA'), protocolHash: hash('protocol') } },
    ])
    assert.deepEqual(await studyOf(id), { researcher: addr('researcher'), status: Study.Proposed, protocolHash: hash('protocol'), hospital: addr('hospitalA') })
    await expectRevert(write('researcher2', 'proposeStudy', [id, hash('other')]), 'ResearchStudyExists', [id])
  })

  test('only the consortium admin decides, once; a rejected study takes no consent', async () => {
    const id = randomId()
    await events('researcher', 'proposeStudy', [id, hash('p')])
    for (const who of ['staffA', 'hospitalA', 'researcher', 'patientA']) await expectRevert(write(who, 'decideStudy', [id, true]), 'ResearchUnauthorized', [addr(who)])
    const unknown = randomId()
    await expectRevert(write('admin', 'decideStudy', [unknown, true]), 'ResearchUnknownStudy', [unknown])
    assert.deepEqual(await events('admin', 'decideStudy', [id, false]), [{ eventName: 'StudyRejected', args: { studyId: id, by: addr('admin') } }])
    await expectRevert(write('admin', 'decideStudy', [id, true]), 'ResearchStudyNotProposed', [id])
    await expectRevert(write('patientA', 'giveConsent', [id]), 'ResearchStudyNotApproved', [id])
    assert.equal((await studyOf(id)).status, Study.Rejected)
  })

  test('patients consent to an approved study and withdraw; the export is recorded by its researcher only', async () => {
    const id = randomId()
    await events('researcher', 'proposeStudy', [id, hash('p')])
    await expectRevert(write('patientA', 'giveConsent', [id]), 'ResearchStudyNotApproved', [id])
    await expectRevert(write('researcher', 'recordExport', [id, 1, 1, hash('m')]), 'ResearchStudyNotApproved', [id])
    assert.deepEqual(await events('admin', 'decideStudy', [id, true]), [{ eventName: 'StudyApproved', args: { studyId: id, by: addr('admin') } }])
    for (const who of ['doctorA', 'researcher', 'staffA', 'stranger']) await expectRevert(write(who, 'giveConsent', [id]), 'ResearchUnauthorized', [addr(who)])
    assert.deepEqual(await events('patientA', 'giveConsent', [id]), [{ eventName: 'ResearchConsentGiven', args: { studyId: id, patient: addr('patientA') } }])
    await expectRevert(write('patientA', 'giveConsent', [id]), 'ResearchAlreadyConsented', [id, addr('patientA')])
    assert.equal(await hasConsent(id, 'patientA'), true)
    assert.equal(await hasConsent(id, 'patientB'), false)
    await expectRevert(write('patientB', 'withdrawConsent', [id]), 'ResearchNotConsented', [id, addr('patientB')])

    for (const who of ['researcher2', 'admin', 'patientA']) await expectRevert(write(who, 'recordExport', [id, 1, 5, hash('m')]), 'ResearchUnauthorized', [addr(who)])
    await expectRevert(write('researcher', 'recordExport', [id, 1, 5, zeroHash]), 'ResearchZeroValue')
    assert.deepEqual(await events('researcher', 'recordExport', [id, 1, 5, hash('manifest 1')]), [
      { eventName: 'StudyExported', args: { studyId: id, exportNumber: 1, patients: 1, resources: 5, manifestHash: hash('manifest 1') } },
    ])
    assert.deepEqual(await events('patientA', 'withdrawConsent', [id]), [{ eventName: 'ResearchConsentWithdrawn', args: { studyId: id, patient: addr('patientA') } }])
    assert.equal(await hasConsent(id, 'patientA'), false)
    assert.deepEqual(await events('researcher', 'recordExport', [id, 0, 0, hash('manifest 2')]), [
      { eventName: 'StudyExported', args: { studyId: id, exportNumber: 2, patients: 0, resources: 0, manifestHash: hash('manifest 2') } },
    ])
    assert.equal(await t.client.readContract({ address: research, abi: researchAbi, functionName: 'registry' }), registry)
    assert.notEqual(registry, zeroAddress)
  })

  test('the researcher requests an export across nodes; each member hospital submits its part once, only for a requested export of an approved study', async () => {
    const [id, proposed, exportId, other] = [randomId(), randomId(), randomId(), randomId()]
    await events('researcher', 'proposeStudy', [id, hash('cross')])
    await events('researcher', 'proposeStudy', [proposed, hash('not decided')])
    await expectRevert(write('researcher', 'requestExport', [proposed, exportId]), 'ResearchStudyNotApproved', [proposed])
    await events('admin', 'decideStudy', [id, true])
    for (const who of ['researcher2', 'admin', 'hospitalA', 'patientA']) await expectRevert(write(who, 'requestExport', [id, exportId]), 'ResearchUnauthorized', [addr(who)])
    await expectRevert(write('researcher', 'requestExport', [id, zeroHash]), 'ResearchZeroValue')
    // a part of an export never requested is refused
    await expectRevert(write('hospitalA', 'submitExportPart', [exportId, hash('part'), 1, 2]), 'ResearchUnknownExport', [exportId])
    assert.deepEqual(await events('researcher', 'requestExport', [id, exportId]), [
      { eventName: 'ExportRequested', args: { exportId, studyId: id, researcher: addr('researcher') } },
    ])
    await expectRevert(write('researcher', 'requestExport', [id, exportId]), 'ResearchExportExists', [exportId])
    assert.equal(await t.client.readContract({ address: research, abi: researchAbi, functionName: 'exportStudyOf', args: [exportId] }), id)
    // only a member hospital, with a non-zero digest, once
    for (const who of ['staffA', 'researcher', 'patientA', 'stranger']) await expectRevert(write(who, 'submitExportPart', [exportId, hash('part'), 1, 2]), 'ResearchUnauthorized', [addr(who)])
    await expectRevert(write('hospitalA', 'submitExportPart', [exportId, zeroHash, 1, 2]), 'ResearchZeroValue')
    await expectRevert(write('hospitalA', 'submitExportPart', [other, hash('part'), 1, 2]), 'ResearchUnknownExport', [other])
    assert.deepEqual(await events('hospitalA', 'submitExportPart', [exportId, hash('part'), 3, 40]), [
      { eventName: 'ExportPartSubmitted', args: { exportId, studyId: id, hospital: addr('hospitalA'), digest: hash('part'), patients: 3, resources: 40 } },
    ])
    await expectRevert(write('hospitalA', 'submitExportPart', [exportId, hash('again'), 3, 40]), 'ResearchPartExists', [exportId, addr('hospitalA')])
    const part = (who: string) => t.client.readContract({ address: research, abi: researchAbi, functionName: 'exportPartOf', args: [exportId, addr(who)] })
    assert.deepEqual(await part('hospitalA'), { digest: hash('part'), patients: 3, resources: 40 })
    assert.deepEqual(await part('stranger'), { digest: zeroHash, patients: 0, resources: 0 })
  })

  test('a consent to all of a hospital\'s studies covers its approved studies, present and future, but those withdrawn one by one', async () => {
    const [one, two] = [randomId(), randomId()]
    await events('researcher', 'proposeStudy', [one, hash('p1')])
    await events('admin', 'decideStudy', [one, true])
    for (const who of ['doctorA', 'researcher', 'stranger']) await expectRevert(write(who, 'giveHospitalConsent', [addr('hospitalA')]), 'ResearchUnauthorized', [addr(who)])
    await expectRevert(write('patientB', 'giveHospitalConsent', [addr('staffA')]), 'ResearchUnknownHospital', [addr('staffA')])
    await expectRevert(write('patientB', 'withdrawHospitalConsent', [addr('hospitalA')]), 'ResearchNoHospitalConsent', [addr('hospitalA'), addr('patientB')])
    assert.deepEqual(await events('patientB', 'giveHospitalConsent', [addr('hospitalA')]), [
      { eventName: 'HospitalResearchConsentGiven', args: { hospital: addr('hospitalA'), patient: addr('patientB') } },
    ])
    await expectRevert(write('patientB', 'giveHospitalConsent', [addr('hospitalA')]), 'ResearchHospitalConsentExists', [addr('hospitalA'), addr('patientB')])
    assert.equal(await hasConsent(one, 'patientB'), true)
    await expectRevert(write('patientB', 'giveConsent', [one]), 'ResearchAlreadyConsented', [one, addr('patientB')])
    // a study approved later is covered too; proposed, it is not yet
    await events('researcher2', 'proposeStudy', [two, hash('p2')])
    assert.equal(await hasConsent(two, 'patientB'), false)
    await events('admin', 'decideStudy', [two, true])
    assert.equal(await hasConsent(two, 'patientB'), true)
    // withdrawing from one study leaves the other; consenting to it again brings it back
    assert.deepEqual(await events('patientB', 'withdrawConsent', [one]), [{ eventName: 'ResearchConsentWithdrawn', args: { studyId: one, patient: addr('patientB') } }])
    assert.deepEqual([await hasConsent(one, 'patientB'), await hasConsent(two, 'patientB')], [false, true])
    await expectRevert(write('patientB', 'withdrawConsent', [one]), 'ResearchNotConsented', [one, addr('patientB')])
    await events('patientB', 'giveConsent', [one])
    assert.equal(await hasConsent(one, 'patientB'), true)
    assert.deepEqual(await events('patientB', 'withdrawHospitalConsent', [addr('hospitalA')]), [
      { eventName: 'HospitalResearchConsentWithdrawn', args: { hospital: addr('hospitalA'), patient: addr('patientB') } },
    ])
    // the study consented to on its own stays; the other goes
    assert.deepEqual([await hasConsent(one, 'patientB'), await hasConsent(two, 'patientB')], [true, false])
  })
})
