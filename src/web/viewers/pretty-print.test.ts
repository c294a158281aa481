import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { prettyJson, prettyXml } from './pretty-print.ts'

const fixtures = fileURLToPath(new URL('../../../../shared/fixtures/', import.meta.url))

describe('record viewer pretty-printing', () => {
  it('indents XML, keeps text-only elements on one line, leaves comments and CDATA alone', () => {
    const xml = '<?xml version="1.0"?><doc><!-- a  note --><title>Hello   world</title><list><item a="1"/><item><![CDATA[<x>]]></item></list><empty></empty></doc>'
    assert.equal(prettyXml(xml), [
      '<?xml version="1.0"?>',
      '<doc>',
      '  <!-- a  note -->',
      '  <title>Hello world</title>',
      '  <list>',
      '    <item a="1"/>',
      '    <item>',
      '      <![CDATA[<x>]]>',
      '    </item>',
      '  </list>',
      '  <empty></empty>',
      '</doc>',
    ].join('\n'))
  })

  it('pretty-prints every C-CDA fixture to balanced indentation with every element kept', () => {
    for (const name of readdirSync(`${fixtures}ccda`)) {
      const xml = readFileSync(`${fixtures}ccda/${name}`, 'utf8')
      const pretty = prettyXml(xml)
      const lines = pretty.split('\n')
      assert.ok(lines.length > 500, name)
      assert.match(lines.at(-1)!, /^<\/ClinicalDocument>$/, 'the root closes at depth 0')
      const count = (s: string) => (s.match(/<[A-Za-z]/g) ?? []).length
      assert.equal(count(pretty), count(xml), 'no element lost')
    }
  })

  it('re-indents JSON and leaves what is not JSON as it was', () => {
    assert.deepEqual(prettyJson('{"a":[1,2]}'), { text: '{\n  "a": [\n    1,\n    2\n  ]\n}', ok: true })
    assert.deepEqual(prettyJson('{nope'), { text: '{nope', ok: false })
  })
})
