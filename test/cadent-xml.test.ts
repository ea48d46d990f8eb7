import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import {
  cadentAdClasses,
  cadentAdTypes,
  cadentCampaignXsdPath,
  cadentDeliveryTypes,
  renderCadentCampaignXml,
  targetsFromTargeting,
  type CadentCampaignInput,
} from '../src/modules/catalog/cadent/render-campaign-xml.ts'
import { StorefrontError } from '../src/shared/errors.ts'

// Set UPDATE_CADENT_FIXTURES=1 to rewrite the golden files after an intended change;
// review the diff before committing it.
const updateFixtures = process.env.UPDATE_CADENT_FIXTURES === '1'
const fixtureUrl = (name: string) => new URL(`./fixtures/cadent/${name}.xml`, import.meta.url)

// ---------------------------------------------------------------------------
// xmllint: the independent validator. A missing binary fails loudly (CI installs it),
// because a skipped schema check would let an invalid renderer ship green.
// ---------------------------------------------------------------------------

interface XmllintRun {
  exitCode: number
  stdout: string
  stderr: string
}

function runXmllint(args: string[], stdin: string, binary = 'xmllint'): Promise<XmllintRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let spawnError: NodeJS.ErrnoException | undefined
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    child.on('error', (error: NodeJS.ErrnoException) => {
      spawnError = error
    })
    // xmllint may exit before reading all of stdin; its exit code carries the verdict.
    child.stdin.on('error', () => {})
    child.on('close', (exitCode) => {
      if (spawnError?.code === 'ENOENT') {
        reject(new Error(`${binary} was not found on PATH; install it with: apt-get install libxml2-utils`))
      } else if (spawnError) {
        reject(spawnError)
      } else {
        resolve({
          exitCode: exitCode ?? -1,
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
        })
      }
    })
    child.stdin.end(stdin, 'utf8')
  })
}

async function validateAgainstXsd(xml: string): Promise<{ valid: boolean; messages: string }> {
  const run = await runXmllint(['--noout', '--schema', cadentCampaignXsdPath, '-'], xml)
  return { valid: run.exitCode === 0, messages: run.stderr }
}

async function assertValidAgainstXsd(xml: string): Promise<void> {
  const { valid, messages } = await validateAgainstXsd(xml)
  assert.ok(valid, `document does not validate against the XSD:\n${messages}`)
}

/** Evaluates an XPath 1.0 expression with xmllint, a parser independent of the renderer. */
async function xpath(xml: string, expression: string): Promise<string> {
  const run = await runXmllint(['--xpath', expression, '-'], xml)
  assert.equal(run.exitCode, 0, `xmllint --xpath ${expression} failed:\n${run.stderr}`)
  return run.stdout.endsWith('\n') ? run.stdout.slice(0, -1) : run.stdout
}

// The rendered document uses a default namespace; local-name() keeps the paths readable.
const campaignPath = '/*[local-name()="CadentCampaign"]/*[local-name()="Campaign"]'
const linePath = (lineNumber: number) => `${campaignPath}/*[local-name()="Line"][${lineNumber}]`

// ---------------------------------------------------------------------------
// Example campaigns, one per golden fixture
// ---------------------------------------------------------------------------

const singleLineWithCreative: CadentCampaignInput = {
  mediaBuyId: 'mb_123',
  campaignName: 'July CTV sports',
  advertiserName: 'Example Advertiser',
  buyerCustomerId: 42,
  campaignDeliveryType: 'GUARANTEED',
  flight: { startTime: '2026-07-01T00:00:00.000Z', endTime: '2026-07-31T23:59:59.000Z' },
  lines: [
    {
      reservationId: 'rsv_01JZ3K7Q9YB2M4N6P8R0T2V4X6',
      availId: 'sports-week-2026-07',
      collectionId: 'connected-tv',
      collectionName: 'Connected TV',
      impressions: 250_000,
      cpm: 22,
      currency: 'USD',
      lineDeliveryType: 'GUARANTEED',
      adType: 'VIDEO',
      adClass: 'COMMERCIAL',
      startTime: '2026-07-01T00:00:00.000Z',
      endTime: '2026-07-31T23:59:59.000Z',
      targets: targetsFromTargeting({ market: 'South Africa', screen: 'CTV' }),
      creative: {
        format: 'video',
        durationSeconds: 30,
        assetUrl: 'https://assets.example.com/creative.mp4',
        adId: 'EXAD1234000H',
      },
    },
  ],
}

const multiLineWithoutCreative: CadentCampaignInput = {
  mediaBuyId: 'mb_talpa_2026_q4_0042',
  campaignName: 'Q4 addressable reach',
  advertiserName: 'Noordzee Verzekeringen',
  campaignDeliveryType: 'NON_GUARANTEED',
  // Offsets on purpose: the document must carry the same instants in UTC.
  flight: { startTime: '2026-10-01T00:00:00+02:00', endTime: '2026-12-31T23:59:59+01:00' },
  lines: [
    {
      reservationId: 'rsv_01K0A1',
      availId: 'sbs6-primetime-2026-10',
      collectionId: 'sbs6',
      collectionName: 'SBS6',
      impressions: 1_200_000,
      cpm: 18.5,
      currency: 'EUR',
      lineDeliveryType: 'GUARANTEED',
      adType: 'VIDEO',
      adClass: 'COMMERCIAL',
      startTime: '2026-10-01T00:00:00+02:00',
      endTime: '2026-10-31T23:59:59+01:00',
      targets: targetsFromTargeting({
        market: 'Netherlands',
        daypart: 'primetime',
        genres: ['drama', 'reality'],
        geo: { country: 'NL', regions: ['Noord-Holland', 'Zuid-Holland'] },
        householdIncomeBand: 3,
      }),
    },
    {
      reservationId: 'rsv_01K0A2',
      availId: 'veronica-sports-2026-11',
      impressions: 400_000,
      cpm: 12.3456,
      currency: 'EUR',
      lineDeliveryType: 'NON_GUARANTEED',
      adType: 'VIDEO',
      adClass: 'SPONSORSHIP',
      startTime: '2026-11-01T00:00:00Z',
      endTime: '2026-11-30T23:59:59Z',
      targets: targetsFromTargeting({ screen: ['CTV', 'mobile'], live: true }),
      creative: null,
    },
    {
      reservationId: 'rsv_01K0A3',
      availId: 'net5-run-of-network-2026-12',
      collectionId: null,
      collectionName: null,
      impressions: 75_000,
      cpm: 0,
      currency: 'EUR',
      lineDeliveryType: 'NON_GUARANTEED',
      adType: 'VIDEO',
      adClass: 'PROMO',
      startTime: '2026-12-01T00:00:00Z',
      endTime: '2026-12-31T22:59:59Z',
      targets: [],
    },
  ],
}

const hostileCampaignName = 'Summer "Sale" & <Deals> ]]> \'50%\' </Campaign><Campaign><ExternalId>evil</ExternalId>'
const hostileAdvertiserName = 'O\'Brien & Sons <Ltd> 🎉 &amp; <![CDATA[x]]>'
const hostileCollectionName = 'قناة الرياضة | ערוץ הספורט'
const hostileTargetType = 'audience "segment" <&> &quot;'
const hostileTargetValues = ['a]]>b', '<!-- not a comment -->', '<?pi not a processing instruction?>', 'שלום 👋🏽', 'R&D; &nbsp; &#38; &#x26; &amp;amp;']
const hostileAssetUrl = 'https://assets.example.com/c.mp4?a=1&b="2"&c=<3>'

const hostileText: CadentCampaignInput = {
  mediaBuyId: 'mb_<script>&"\'',
  campaignName: hostileCampaignName,
  advertiserName: hostileAdvertiserName,
  buyerCustomerId: 0,
  campaignDeliveryType: 'GUARANTEED',
  flight: { startTime: '2026-08-01T00:00:00Z', endTime: '2026-08-31T23:59:59Z' },
  lines: [
    {
      reservationId: 'rsv_hostile',
      availId: 'avail &amp; <b>',
      collectionId: 'rtl-\u202Eevil',
      collectionName: hostileCollectionName,
      impressions: 1,
      cpm: 9999999999.9999,
      currency: 'ZAR',
      lineDeliveryType: 'NON_GUARANTEED',
      adType: 'VIDEO',
      adClass: 'PSA',
      startTime: '2026-08-01T00:00:00Z',
      endTime: '2026-08-31T23:59:59Z',
      targets: [{ targetType: hostileTargetType, values: hostileTargetValues }],
      creative: { format: 'vidéo "HD" <16:9>', durationSeconds: 15, assetUrl: hostileAssetUrl },
    },
  ],
}

const examples = {
  'single-line-with-creative': singleLineWithCreative,
  'multi-line-without-creative': multiLineWithoutCreative,
  'hostile-text': hostileText,
} satisfies Record<string, CadentCampaignInput>

function withLine(input: CadentCampaignInput, patch: Record<string, unknown>, lineIndex = 0): CadentCampaignInput {
  const lines = input.lines.map((line, index) => (index === lineIndex ? { ...line, ...patch } : line))
  return { ...input, lines } as CadentCampaignInput
}

function expectRefusal(input: unknown, expectedPath: string): void {
  assert.throws(
    () => renderCadentCampaignXml(input as CadentCampaignInput),
    (error: unknown) => {
      assert.ok(error instanceof StorefrontError, `expected a StorefrontError, got ${String(error)}`)
      assert.equal(error.code, 'VALIDATION_ERROR')
      const paths = (error.details?.issues ?? []).map((issue) => issue.path)
      assert.ok(paths.includes(expectedPath), `expected an issue at ${expectedPath}, got ${JSON.stringify(paths)}`)
      assert.ok(error.message.includes(`${expectedPath}:`), `message should name ${expectedPath}: ${error.message}`)
      return true
    },
  )
}

/** The same data with every object's keys in reverse order. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).reverse().map(([key, nested]) => [key, reverseKeys(nested)]))
  }
  return value
}

// ---------------------------------------------------------------------------

describe('renderCadentCampaignXml', () => {
  for (const [fixtureName, input] of Object.entries(examples)) {
    it(`renders the ${fixtureName} campaign exactly as its golden fixture`, async () => {
      const xml = renderCadentCampaignXml(input)
      if (updateFixtures) await writeFile(fixtureUrl(fixtureName), xml, 'utf8')
      assert.equal(xml, await readFile(fixtureUrl(fixtureName), 'utf8'))
    })

    it(`renders the ${fixtureName} campaign as a document valid against cadent-campaign-v1.xsd`, async () => {
      await assertValidAgainstXsd(renderCadentCampaignXml(input))
    })
  }

  it('starts with an XML declaration naming UTF-8 and uses the version 1 namespace', () => {
    const xml = renderCadentCampaignXml(singleLineWithCreative)
    assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n'))
    assert.ok(xml.includes('<CadentCampaign xmlns="urn:storefront:cadent:campaign:1" schemaVersion="1">'))
  })

  it('escapes hostile text so every value reads back exactly and nothing is injected', async () => {
    const xml = renderCadentCampaignXml(hostileText)
    assert.equal(await xpath(xml, `string(${campaignPath}/*[local-name()="Name"])`), hostileCampaignName)
    assert.equal(await xpath(xml, `string(${campaignPath}/*[local-name()="AdvertiserName"])`), hostileAdvertiserName)
    assert.equal(await xpath(xml, `string(${campaignPath}/*[local-name()="ExternalId"])`), hostileText.mediaBuyId)
    assert.equal(await xpath(xml, `string(${linePath(1)}/*[local-name()="AvailId"])`), 'avail &amp; <b>')
    assert.equal(await xpath(xml, `string(${linePath(1)}/*[local-name()="CollectionName"])`), hostileCollectionName)
    const targetPath = `${linePath(1)}/*[local-name()="Targets"]/*[local-name()="Target"][1]`
    assert.equal(await xpath(xml, `string(${targetPath}/@type)`), hostileTargetType)
    for (const [index, value] of hostileTargetValues.entries()) {
      assert.equal(await xpath(xml, `string(${targetPath}/*[local-name()="Value"][${index + 1}])`), value)
    }
    assert.equal(await xpath(xml, `string(${linePath(1)}/*[local-name()="Creative"]/*[local-name()="AssetUrl"])`), hostileAssetUrl)
    // The injection attempt stays text: one Campaign, one ExternalId, no comment or PI nodes.
    assert.equal(await xpath(xml, 'count(//*[local-name()="Campaign"])'), '1')
    assert.equal(await xpath(xml, 'count(//*[local-name()="ExternalId"])'), '1')
    assert.equal(await xpath(xml, 'count(//comment() | //processing-instruction())'), '0')
    assert.ok(!xml.includes('<![CDATA['), 'text must be escaped, never wrapped in CDATA')
  })

  it('escapes text that looks like an entity reference, which xmlbuilder2 alone would leave raw', async () => {
    const entityLookalikes = 'R&D; &nbsp; &#38; &amp;'
    const xml = renderCadentCampaignXml({ ...singleLineWithCreative, campaignName: entityLookalikes, advertiserName: '&amp;' })
    assert.ok(xml.includes('<Name>R&amp;D; &amp;nbsp; &amp;#38; &amp;amp;</Name>'))
    assert.equal(await xpath(xml, `string(${campaignPath}/*[local-name()="Name"])`), entityLookalikes)
    assert.equal(await xpath(xml, `string(${campaignPath}/*[local-name()="AdvertiserName"])`), '&amp;')
    await assertValidAgainstXsd(xml)
  })

  it('produces byte-identical output for the same input, whatever order its keys are in', () => {
    for (const input of Object.values(examples)) {
      const first = renderCadentCampaignXml(input)
      assert.equal(renderCadentCampaignXml(structuredClone(input)), first)
      assert.equal(renderCadentCampaignXml(reverseKeys(input) as CadentCampaignInput), first)
    }
  })

  it('writes every instant in UTC with a Z suffix, whatever offset it was given', async () => {
    const xml = renderCadentCampaignXml(multiLineWithoutCreative)
    assert.equal(await xpath(xml, `string(${campaignPath}/*[local-name()="Flight"]/*[local-name()="Start"])`), '2026-09-30T22:00:00.000Z')
    assert.equal(await xpath(xml, `string(${linePath(1)}/*[local-name()="Flight"]/*[local-name()="End"])`), '2026-10-31T22:59:59.000Z')
  })

  it('writes CPM as a plain decimal with two to four places and the currency as an attribute', async () => {
    const cases: Array<[number, string]> = [[22, '22.00'], [0, '0.00'], [18.5, '18.50'], [12.345, '12.345'], [0.0001, '0.0001'], [9999999999.9999, '9999999999.9999']]
    for (const [cpm, expected] of cases) {
      const xml = renderCadentCampaignXml(withLine(singleLineWithCreative, { cpm }))
      assert.equal(await xpath(xml, `string(${linePath(1)}/*[local-name()="Cpm"])`), expected)
      assert.equal(await xpath(xml, `string(${linePath(1)}/*[local-name()="Cpm"]/@currency)`), 'USD')
      await assertValidAgainstXsd(xml)
    }
  })

  it('leaves out optional elements that are absent or null, and keeps an empty Targets element', async () => {
    const xml = renderCadentCampaignXml(multiLineWithoutCreative)
    assert.equal(await xpath(xml, `count(${campaignPath}/*[local-name()="BuyerCustomerId"])`), '0')
    assert.equal(await xpath(xml, 'count(//*[local-name()="Creative"])'), '0')
    assert.equal(await xpath(xml, `count(${linePath(2)}/*[local-name()="CollectionId"])`), '0')
    assert.equal(await xpath(xml, `count(${linePath(3)}/*[local-name()="Targets"])`), '1')
    assert.equal(await xpath(xml, `count(${linePath(3)}/*[local-name()="Targets"]/*)`), '0')
    const withoutAdId = renderCadentCampaignXml(withLine(singleLineWithCreative, {
      creative: { format: 'video', durationSeconds: 30, assetUrl: 'https://assets.example.com/creative.mp4' },
    }))
    assert.equal(await xpath(withoutAdId, 'count(//*[local-name()="AdId"])'), '0')
    await assertValidAgainstXsd(withoutAdId)
  })

  it('counts length limits in characters, as the XSD does, not in UTF-16 units', async () => {
    const fiveHundredEmoji = '🎬'.repeat(500)
    await assertValidAgainstXsd(renderCadentCampaignXml({ ...singleLineWithCreative, campaignName: fiveHundredEmoji }))
    expectRefusal({ ...singleLineWithCreative, campaignName: `${fiveHundredEmoji}🎬` }, 'campaignName')
  })

  describe('refuses invalid input with a VALIDATION_ERROR naming the field path', () => {
    const line = singleLineWithCreative.lines[0]!
    const refusals: Array<[string, unknown, string]> = [
      ['zero impressions', withLine(singleLineWithCreative, { impressions: 0 }), 'lines[0].impressions'],
      ['fractional impressions', withLine(singleLineWithCreative, { impressions: 10.5 }), 'lines[0].impressions'],
      ['a control character in the campaign name', { ...singleLineWithCreative, campaignName: 'July\u0000CTV' }, 'campaignName'],
      ['a line break in the advertiser name', { ...singleLineWithCreative, advertiserName: 'Example\r\nAdvertiser' }, 'advertiserName'],
      ['an unpaired surrogate', { ...singleLineWithCreative, campaignName: 'July \uD83D CTV' }, 'campaignName'],
      ['U+FFFE', { ...singleLineWithCreative, campaignName: 'July \uFFFE' }, 'campaignName'],
      ['a blank media buy id', { ...singleLineWithCreative, mediaBuyId: '   ' }, 'mediaBuyId'],
      ['a tab in a target value', withLine(singleLineWithCreative, { targets: [{ targetType: 'market', values: ['South\tAfrica'] }] }), 'lines[0].targets[0].values[0]'],
      ['a target with no values', withLine(singleLineWithCreative, { targets: [{ targetType: 'market', values: [] }] }), 'lines[0].targets[0].values'],
      ['a repeated target type', withLine(singleLineWithCreative, { targets: [{ targetType: 'market', values: ['ZA'] }, { targetType: 'market', values: ['NL'] }] }), 'lines[0].targets[1].targetType'],
      ['a lower-case currency', withLine(singleLineWithCreative, { currency: 'usd' }), 'lines[0].currency'],
      ['a negative CPM', withLine(singleLineWithCreative, { cpm: -1 }), 'lines[0].cpm'],
      ['a CPM with five decimals', withLine(singleLineWithCreative, { cpm: 1.23456 }), 'lines[0].cpm'],
      ['a CPM too large for the ledger', withLine(singleLineWithCreative, { cpm: 1e10 }), 'lines[0].cpm'],
      ['an ad type outside the enumeration', withLine(singleLineWithCreative, { adType: 'BANNER' }), 'lines[0].adType'],
      ['an ad class outside the enumeration', withLine(singleLineWithCreative, { adClass: 'commercial' }), 'lines[0].adClass'],
      ['a campaign delivery type outside the enumeration', { ...singleLineWithCreative, campaignDeliveryType: 'PREEMPTIBLE' }, 'campaignDeliveryType'],
      ['a date without a zone', withLine(singleLineWithCreative, { startTime: '2026-07-01T00:00:00' }), 'lines[0].startTime'],
      ['a campaign flight that ends before it starts', { ...singleLineWithCreative, flight: { startTime: '2026-07-31T00:00:00Z', endTime: '2026-07-01T00:00:00Z' } }, 'flight.endTime'],
      ['a line that ends after the campaign', withLine(singleLineWithCreative, { endTime: '2026-08-01T00:00:00Z' }), 'lines[0].endTime'],
      ['a line that starts before the campaign', withLine(singleLineWithCreative, { startTime: '2026-06-30T23:59:59Z' }), 'lines[0].startTime'],
      ['a repeated reservation id', { ...singleLineWithCreative, lines: [line, { ...line }] }, 'lines[1].reservationId'],
      ['no lines', { ...singleLineWithCreative, lines: [] }, 'lines'],
      ['a negative buyer customer id', { ...singleLineWithCreative, buyerCustomerId: -1 }, 'buyerCustomerId'],
      ['a non-http asset URL', withLine(singleLineWithCreative, { creative: { ...line.creative, assetUrl: 'ftp://assets.example.com/c.mp4' } }), 'lines[0].creative.assetUrl'],
      ['an asset URL with a space', withLine(singleLineWithCreative, { creative: { ...line.creative, assetUrl: 'https://assets.example.com/a b.mp4' } }), 'lines[0].creative.assetUrl'],
      ['a malformed Ad-ID', withLine(singleLineWithCreative, { creative: { ...line.creative, adId: 'exad1234000h' } }), 'lines[0].creative.adId'],
      ['a zero-second creative', withLine(singleLineWithCreative, { creative: { ...line.creative, durationSeconds: 0 } }), 'lines[0].creative.durationSeconds'],
      ['an unknown field', { ...singleLineWithCreative, advertiser: 'typo' }, '(input)'],
      ['a missing campaign name', { ...singleLineWithCreative, campaignName: undefined }, 'campaignName'],
    ]
    for (const [description, input, expectedPath] of refusals) {
      it(`refuses ${description} at ${expectedPath}`, () => expectRefusal(input, expectedPath))
    }
  })
})

describe('cadent-campaign-v1.xsd', () => {
  const validDocument = renderCadentCampaignXml(singleLineWithCreative)
  const breakages: Array<[string, string | RegExp, string]> = [
    ['a missing AdvertiserName', /\s*<AdvertiserName>.*<\/AdvertiserName>/, ''],
    ['a missing Line', /\s*<Line>[\s\S]*<\/Line>/, ''],
    ['schemaVersion 2', 'schemaVersion="1"', 'schemaVersion="2"'],
    ['another namespace', 'urn:storefront:cadent:campaign:1', 'urn:storefront:cadent:campaign:2'],
    ['an element the schema does not define', '<AdvertiserName>', '<Notes>free text</Notes>\n    <AdvertiserName>'],
    ['elements out of order', /(<ExternalId>.*<\/ExternalId>)(\s*)(<Name>.*<\/Name>)/, '$3$2$1'],
    ['zero impressions', '<Impressions>250000</Impressions>', '<Impressions>0</Impressions>'],
    ['a negative CPM', '>22.00</Cpm>', '>-1.00</Cpm>'],
    ['a CPM with five decimals', '>22.00</Cpm>', '>22.00001</Cpm>'],
    ['a lower-case currency', 'currency="USD"', 'currency="usd"'],
    ['a missing currency', ' currency="USD"', ''],
    ['a time with an offset instead of Z', '<Start>2026-07-01T00:00:00.000Z</Start>', '<Start>2026-07-01T02:00:00.000+02:00</Start>'],
    ['an unknown delivery type', '<DeliveryType>GUARANTEED</DeliveryType>', '<DeliveryType>PREEMPTIBLE</DeliveryType>'],
    ['an unknown ad class', '<AdClass>COMMERCIAL</AdClass>', '<AdClass>commercial</AdClass>'],
    ['a blank campaign name', '<Name>July CTV sports</Name>', '<Name>   </Name>'],
    ['a tab in a target value', '<Value>CTV</Value>', '<Value>C&#9;TV</Value>'],
    ['a repeated target type', /(<Target type="screen">[\s\S]*?<\/Target>)/, '$1$1'],
    ['a repeated reservation id', /(<Line>[\s\S]*<\/Line>)/, '$1$1'],
    ['a target without values', /<Target type="screen">[\s\S]*?<\/Target>/, '<Target type="screen"/>'],
    ['a malformed Ad-ID', '<AdId>EXAD1234000H</AdId>', '<AdId>EX-1234</AdId>'],
    ['a relative asset URL', '<AssetUrl>https://assets.example.com/creative.mp4</AssetUrl>', '<AssetUrl>/creative.mp4</AssetUrl>'],
  ]

  it('accepts the unbroken document the breakages below start from', async () => {
    await assertValidAgainstXsd(validDocument)
  })

  for (const [description, search, replacement] of breakages) {
    it(`rejects a document with ${description}`, async () => {
      const broken = validDocument.replace(search, replacement)
      assert.notEqual(broken, validDocument, 'the breakage must change the document')
      const { valid, messages } = await validateAgainstXsd(broken)
      assert.equal(valid, false, 'xmllint accepted a broken document')
      assert.match(messages, /fails to validate/)
    })
  }

  it('lists the same closed enumerations as the renderer', async () => {
    const xsd = await readFile(cadentCampaignXsdPath, 'utf8')
    const enumeration = (typeName: string): string[] => {
      const block = new RegExp(`<xs:simpleType name="${typeName}">([\\s\\S]*?)</xs:simpleType>`).exec(xsd)
      assert.ok(block, `the XSD has no simpleType ${typeName}`)
      return [...block[1]!.matchAll(/<xs:enumeration value="([^"]+)"\/>/g)].map((match) => match[1]!)
    }
    assert.deepEqual(enumeration('DeliveryType'), [...cadentDeliveryTypes])
    assert.deepEqual(enumeration('AdType'), [...cadentAdTypes])
    assert.deepEqual(enumeration('AdClass'), [...cadentAdClasses])
  })

  it('is reported as missing with an install hint when xmllint is not installed', async () => {
    await assert.rejects(
      runXmllint(['--version'], '', 'xmllint-not-installed-for-this-test'),
      /apt-get install libxml2-utils/,
    )
  })
})

describe('targetsFromTargeting', () => {
  it('turns the seed avail targeting into targets sorted by type', () => {
    assert.deepEqual(targetsFromTargeting({ screen: 'CTV', market: 'South Africa' }), [
      { targetType: 'market', values: ['South Africa'] },
      { targetType: 'screen', values: ['CTV'] },
    ])
  })

  it('flattens arrays and gives nested objects dotted types', () => {
    assert.deepEqual(
      targetsFromTargeting({
        genres: ['sports', ['news', 'weather']],
        geo: { country: 'ZA', cities: ['Cape Town', 'Durban'], postal: { prefix: '80' } },
        audiences: [{ segment: 'sports-fans' }, { segment: 'parents' }],
      }),
      [
        { targetType: 'audiences.segment', values: ['sports-fans', 'parents'] },
        { targetType: 'genres', values: ['sports', 'news', 'weather'] },
        { targetType: 'geo.cities', values: ['Cape Town', 'Durban'] },
        { targetType: 'geo.country', values: ['ZA'] },
        { targetType: 'geo.postal.prefix', values: ['80'] },
      ],
    )
  })

  it('stringifies numbers and booleans and skips null, empty and blank values', () => {
    assert.deepEqual(
      targetsFromTargeting({
        ageMin: 25,
        ratio: 0.5,
        live: false,
        channel: null,
        notes: '',
        blank: '   ',
        empty: [],
        nothing: {},
        sparse: [null, 'kept', ''],
        '  ': 'blank key',
      }),
      [
        { targetType: 'ageMin', values: ['25'] },
        { targetType: 'live', values: ['false'] },
        { targetType: 'ratio', values: ['0.5'] },
        { targetType: 'sparse', values: ['kept'] },
      ],
    )
  })

  it('cleans line breaks and control characters out of feed text and drops repeated values', () => {
    assert.deepEqual(
      targetsFromTargeting({ 'day\npart': ['prime\r\ntime', 'prime time', ' prime\u0007 time ', 'late\u0000'] }),
      [{ targetType: 'day part', values: ['prime time', 'late'] }],
    )
  })

  it('merges values that land on the same dotted type', () => {
    assert.deepEqual(targetsFromTargeting({ 'geo.country': 'ZA', geo: { country: ['NL', 'ZA'] } }), [
      { targetType: 'geo.country', values: ['ZA', 'NL'] },
    ])
  })

  it('sorts by code unit so the order never depends on the machine locale', () => {
    const types = targetsFromTargeting({ b: 1, a: 1, B: 1, 'é': 1, Z: 1 }).map((target) => target.targetType)
    assert.deepEqual(types, ['B', 'Z', 'a', 'b', 'é'])
  })

  it('refuses targeting that is not a JSON object', () => {
    assert.throws(() => targetsFromTargeting(['market'] as unknown as Record<string, unknown>), /targeting must be a JSON object/)
  })

  it('yields targets the renderer accepts even from messy feed data', async () => {
    const targets = targetsFromTargeting({ 'Screen\ttype': 'CTV\u000B', market: ['South\nAfrica', null], 'x"<y>': '&' })
    await assertValidAgainstXsd(renderCadentCampaignXml(withLine(singleLineWithCreative, { targets })))
  })
})
