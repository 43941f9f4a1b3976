// End-to-end test of the front end in a real headless Chromium against a real
// `sluice serve` and a loopback webhook receiver.
//
//   npm run e2e                 (builds dist and the Go binary first)
//   E2E_SKIP_BUILD=1 npm run e2e  (uses dist as it is)
//   E2E_KEEP=1                  keeps the temporary directory (logs, data)
//
// It walks the issue's "Done means" scenario with hard assertions and writes
// the screenshots linked from the README to frontend/screenshots/.
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
const frontend = resolve(here, '..')
const repo = resolve(frontend, '..')
const shots = join(frontend, 'screenshots')
const API_KEY = 'e2e-key-' + Math.random().toString(36).slice(2)
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const started = Date.now()

const tmp = mkdtempSync(join(tmpdir(), 'sluice-e2e-'))
const cleanups = []
let page
let sluiceLog = ''

function log(msg) {
  console.log(`[e2e +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`)
}

async function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer()
    s.once('error', rej)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => res(port))
    })
  })
}

async function waitFor(what, fn, timeoutMs = 30_000, everyMs = 200) {
  const end = Date.now() + timeoutMs
  let last
  while (Date.now() < end) {
    try {
      const v = await fn()
      if (v) return v
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`)
}

/** startReceiver answers 200 on /ok (and anything else), 500 on /fail, and records every request. */
async function startReceiver() {
  const requests = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body })
      if (req.url.startsWith('/fail')) {
        res.writeHead(500, { 'Content-Type': 'text/plain' })
        res.end('boom: the receiver is failing on purpose')
        return
      }
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ received: true }))
    })
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  cleanups.push(() => new Promise((r) => server.close(r)))
  return { url: `http://127.0.0.1:${server.address().port}`, requests }
}

async function startSluice(bin) {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const dataDir = join(tmp, 'data')
  mkdirSync(dataDir)
  const child = spawn(bin, ['serve'], {
    cwd: tmp,
    env: {
      ...process.env,
      SLUICE_ADDR: `127.0.0.1:${port}`,
      SLUICE_DATA_DIR: dataDir,
      SLUICE_API_KEY: API_KEY,
      SLUICE_ALLOW_PRIVATE_TARGETS: 'true',
      SLUICE_DATABASE_URL: '',
      SLUICE_REDIS_URL: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout.on('data', (d) => (sluiceLog += d))
  child.stderr.on('data', (d) => (sluiceLog += d))
  let exited = null
  child.on('exit', (code) => (exited = code))
  cleanups.push(
    () =>
      new Promise((r) => {
        if (exited !== null) return r()
        child.once('exit', r)
        child.kill('SIGTERM')
        setTimeout(() => child.kill('SIGKILL'), 5000).unref()
      }),
  )
  await waitFor('sluice serve to answer /healthz', async () => {
    if (exited !== null) throw new Error(`sluice exited with ${exited}`)
    const r = await fetch(`${base}/healthz`)
    return r.ok
  }, 60_000)
  return base
}

async function api(base, method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await r.text()
  return { status: r.status, body: text ? JSON.parse(text) : null }
}

/** drag moves the mouse from one element's centre to another's in small steps (React Flow connections). */
async function drag(from, to) {
  const a = await from.boundingBox()
  const b = await to.boundingBox()
  assert.ok(a && b, 'drag: elements are visible')
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2)
  await page.mouse.down()
  await page.mouse.move(a.x + a.width / 2 + 10, a.y + a.height / 2 + 10, { steps: 5 })
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 20 })
  await page.mouse.up()
}

/** text returns an element's text with whitespace collapsed. */
async function text(locator) {
  return (await locator.innerText()).replace(/\s+/g, ' ').trim()
}

async function shot(name) {
  await page.screenshot({ path: join(shots, name) })
  log(`screenshot screenshots/${name}`)
}

async function main() {
  // --- build
  if (!process.env.E2E_SKIP_BUILD) {
    log('vite build')
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: frontend, stdio: 'inherit' })
  }
  const bin = join(tmp, 'sluice')
  log('go build ./cmd/sluice')
  execFileSync('go', ['build', '-o', bin, './cmd/sluice'], { cwd: repo, stdio: 'inherit' })

  // --- servers
  const receiver = await startReceiver()
  const base = await startSluice(bin)
  log(`sluice at ${base}, receiver at ${receiver.url}`)

  // The client's routes exist in the server's OpenAPI document.
  const doc = await (await fetch(`${base}/api/v1/openapi.json`)).json()
  const endpoints = JSON.parse(readFileSync(join(frontend, 'src/api/endpoints.json'), 'utf8'))
  for (const [method, path] of endpoints) {
    assert.ok(doc.paths?.[path]?.[method.toLowerCase()], `OpenAPI document has ${method} ${path}`)
  }

  // The app is served from the binary, with the SPA fallback.
  const index = await fetch(`${base}/scenarios/anything`)
  assert.equal(index.status, 200)
  assert.match(index.headers.get('content-type'), /text\/html/)
  assert.match(await index.text(), /<div id="root">/)

  // --- browser
  mkdirSync(shots, { recursive: true })
  const profile = join(tmp, 'chromium-profile')
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
  })
  cleanups.unshift(() => context.close())
  page = context.pages()[0] ?? (await context.newPage())
  page.setDefaultTimeout(15_000)
  const pageErrors = []
  page.on('pageerror', (e) => pageErrors.push(e.message))

  // 1. Sign in: a wrong key is refused clearly, the right one is kept in sessionStorage.
  log('sign in')
  await page.goto(base + '/')
  await page.getByLabel('API key').fill('not-the-key')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByText('This API key was refused').waitFor()
  await shot('signin-refused.png')
  await page.getByLabel('API key').fill(API_KEY)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Automation scenarios' }).waitFor()
  assert.equal(await page.evaluate(() => sessionStorage.getItem('sluice.apiKey')), API_KEY)
  assert.equal(await page.evaluate(() => localStorage.length), 0)
  await page.getByText('No scenarios yet').waitFor()

  // 2. Create a scenario and open the builder.
  log('create scenario')
  await page.getByRole('button', { name: 'New scenario' }).first().click()
  await page.getByRole('dialog', { name: 'New scenario' }).getByLabel('Name').fill('Signup to CRM')
  await page.getByRole('button', { name: 'Create and open' }).click()
  await page.waitForURL(/\/scenarios\/scn_/)
  const scenarioId = decodeURIComponent(page.url().split('/scenarios/')[1])
  await page.getByText('Start with a trigger').waitFor()

  // 3. Drag "Contact subscribes" and "Send a Webhook" from the palette onto the canvas.
  log('drag from the palette')
  const canvas = page.getByTestId('canvas')
  const box = await canvas.boundingBox()
  await page.locator('.palette-item[data-type="signup"]').dragTo(canvas, { targetPosition: { x: box.width / 2, y: 120 } })
  await page.getByTestId('node-signup_1').waitFor()
  const first = await page.getByTestId('node-signup_1').boundingBox()
  assert.ok(Math.abs(first.y - box.y - 120) < 80, 'the step stays where it was dropped')
  await page.locator('.palette-item[data-type="send_webhook"]').dragTo(canvas, { targetPosition: { x: box.width / 2, y: first.y - box.y + first.height + 150 } })
  await page.getByTestId('node-send_webhook_1').waitFor()
  assert.equal(await page.locator('.react-flow__edge').count(), 0, 'dropped nodes are not connected yet')
  await page.getByTestId('unsaved').waitFor()

  // 4. Connect the trigger's output handle to the webhook's input handle.
  log('connect handles')
  await drag(
    page.locator('.react-flow__node[data-id="signup_1"] .react-flow__handle.source'),
    page.locator('.react-flow__node[data-id="send_webhook_1"] .react-flow__handle.target'),
  )
  await waitFor('the edge', async () => (await page.locator('.react-flow__edge').count()) === 1, 5000)

  // 5. Fill the webhook form.
  log('fill the webhook form')
  await page.getByTestId('node-send_webhook_1').click()
  const panel = page.getByRole('complementary', { name: 'Send a Webhook step' })
  await panel.waitFor()
  const url = panel.getByRole('textbox', { name: 'URL' })
  await url.fill(`${receiver.url}/fail`)
  await panel.getByRole('group', { name: 'Contact fields to send' }).getByText('firstname', { exact: true }).click()
  await panel.getByRole('button', { name: 'Add row' }).click()
  await panel.getByLabel('Additional data key 1').fill('plan')
  await panel.getByRole('textbox', { name: 'Additional data value 1', exact: true }).fill('pro')
  await panel.getByRole('button', { name: 'Add header' }).click()
  await panel.getByLabel('Headers key 1').fill('X-Source')
  await panel.getByRole('textbox', { name: 'Headers value 1', exact: true }).fill('sluice-e2e')

  // 6. Test URL: a red cross for the failing URL…
  log('test URL (failing)')
  await panel.getByRole('button', { name: 'Test URL' }).click()
  const fail = panel.getByTestId('test-fail')
  await fail.waitFor()
  assert.match(await fail.innerText(), /500/)
  assert.ok(receiver.requests.some((r) => r.url === '/fail'), 'the test request reached the receiver')

  // …and a green check for the working one, with a placeholder from the picker.
  log('test URL (working, with a placeholder)')
  await url.fill(`${receiver.url}/ok?name=`)
  await url.press('End')
  await panel.getByRole('button', { name: 'Get placeholders for URL' }).click()
  await page.getByRole('dialog', { name: 'Placeholders' }).getByRole('button', { name: /First name/ }).click()
  assert.equal(await url.inputValue(), `${receiver.url}/ok?name={{ contact.firstname }}`)
  await panel.getByRole('button', { name: 'Test URL' }).click()
  const ok = panel.getByTestId('test-ok')
  await ok.waitFor()
  assert.match(await ok.innerText(), /200 · \d+ ms/)
  const tested = receiver.requests.findLast((r) => r.url.startsWith('/ok'))
  assert.equal(tested.url, '/ok?name=John', 'the placeholder is rendered with the sample contact')
  assert.equal(tested.headers['x-source'], 'sluice-e2e')
  assert.ok(tested.headers['webhook-signature']?.startsWith('v1,'), 'test requests are signed')
  assert.deepEqual(JSON.parse(tested.body).extra, { plan: 'pro' })
  await panel.getByRole('button', { name: 'See details' }).click()
  const details = page.getByRole('dialog', { name: 'Test request details' })
  await details.getByText('"received": true').waitFor()
  await details.getByText('x-source', { exact: false }).first().waitFor()
  await shot('test-details.png')
  await details.getByRole('button', { name: 'Close' }).click()
  await shot('builder.png')

  // 7. Save (a draft version) and activate.
  log('save and activate')
  await page.getByRole('button', { name: 'Save' }).click()
  await page.getByText(/Saved as draft version 2/).waitFor()
  await waitFor('the unsaved flag to go', async () => (await page.getByTestId('unsaved').count()) === 0, 5000)
  const saved = await api(base, 'GET', `/api/v1/scenarios/${scenarioId}`)
  assert.equal(saved.body.version, 2)
  assert.deepEqual(saved.body.graph.edges, [{ from: 'signup_1', to: 'send_webhook_1' }])
  const webhookConfig = saved.body.graph.nodes.find((n) => n.id === 'send_webhook_1').config
  assert.equal(webhookConfig.url, `${receiver.url}/ok?name={{ contact.firstname }}`)
  assert.deepEqual(webhookConfig.data, { plan: 'pro' })
  assert.deepEqual(webhookConfig.headers, { 'X-Source': 'sluice-e2e' })
  assert.deepEqual(webhookConfig.fields, ['email', 'firstname'])
  await page.getByRole('button', { name: 'Activate' }).click()
  await page.getByText(/is live/).waitFor()
  await page.locator('.topbar .badge-active').waitFor()
  await page.getByText(/has been activated and is read-only/).waitFor()
  assert.equal(await text(page.getByTestId('accepted-send_webhook_1')), '0 ok')

  // 8. A signup event through the API: accepted = 1 appears on the node without reloading.
  log('send a signup event')
  const navigations = []
  page.on('framenavigated', (f) => f === page.mainFrame() && navigations.push(f.url()))
  const ev = await api(base, 'POST', '/api/v1/events', { type: 'signup', email: 'ada@example.org', contact: { email: 'ada@example.org', firstname: 'Ada' } })
  assert.equal(ev.status, 202, JSON.stringify(ev.body))
  await waitFor('accepted = 1 on the node', async () => (await text(page.getByTestId('accepted-send_webhook_1'))) === '1 ok', 30_000)
  assert.equal(await text(page.getByTestId('reached-send_webhook_1')), '1 reached')
  assert.equal(await text(page.getByTestId('reached-signup_1')), '1 reached')
  assert.deepEqual(navigations, [], 'the page was not reloaded')
  const delivered = receiver.requests.findLast((r) => r.url.startsWith('/ok') && r.url !== '/ok?name=John')
  assert.equal(delivered.url, '/ok?name=Ada')
  const body = JSON.parse(delivered.body)
  assert.equal(body.event, 'automation.webhook.send')
  assert.equal(body.data.firstname, 'Ada')
  assert.deepEqual(body.extra, { plan: 'pro' })

  // 9. The step's statistics: counters, activity graph and the delivery's attempt.
  log('open the step statistics')
  await page.getByRole('button', { name: 'Statistics of Send a Webhook' }).click()
  await page.getByRole('tab', { name: /Statistics/ }).waitFor()
  await waitFor('accepted counter', async () => (await page.getByTestId('panel-accepted').innerText()) === '1', 10_000)
  await page.locator('.chart canvas').first().waitFor()
  const attempt = page.getByTestId('attempt').first()
  await attempt.waitFor()
  assert.match(await attempt.innerText(), /#1[\s\S]*HTTP 200[\s\S]*ms/)
  await attempt.getByText('Request').click()
  await attempt.getByText('automation.webhook.send', { exact: false }).first().waitFor()
  await page.getByRole('radio', { name: 'Failed' }).click()
  await page.getByText('No failed deliveries').waitFor()
  await page.getByRole('radio', { name: 'All' }).click()
  await page.getByTestId('attempt').first().waitFor()
  await page.locator('.panel-body').evaluate((el) => el.scrollTo(0, 0))
  await shot('statistics.png')

  // 10. The version picker: version 2 is live; version 1 (empty) shows no steps.
  log('version picker')
  await page.getByLabel('Version').selectOption('1')
  await page.getByText('You are looking at version 1').waitFor()
  await waitFor('version 1 graph', async () => (await page.locator('.react-flow__node').count()) === 0, 5000)
  await page.getByRole('button', { name: /Back to the latest version/ }).click()
  await page.getByTestId('node-send_webhook_1').waitFor()
  await waitFor('stats back on the node', async () => (await text(page.getByTestId('accepted-send_webhook_1'))) === '1 ok', 10_000)

  // 11. Wide screen.
  await page.setViewportSize({ width: 1920, height: 1080 })
  await page.getByRole('button', { name: 'Statistics of Send a Webhook' }).click()
  await page.getByTestId('attempt').first().waitFor()
  await page.waitForTimeout(300)
  await page.locator('.panel-body').evaluate((el) => el.scrollTo(0, 0))
  await shot('statistics-wide.png')
  await page.setViewportSize({ width: 1280, height: 800 })

  // 12. The scenario list: status, version, reach, last activity.
  log('scenario list')
  await page.getByRole('link', { name: 'Scenarios' }).click()
  const row = page.locator('tr', { has: page.getByRole('link', { name: 'Signup to CRM' }) })
  await row.waitFor()
  const cells = await row.locator('td').allInnerTexts()
  assert.equal(cells.slice(0, 4).join('|'), 'Signup to CRM|Active|v2|1')
  assert.match(cells[4], /^(this hour|1 h ago)$/) // the server reports activity by hour
  await shot('scenarios.png')
  await page.getByRole('link', { name: 'Signup to CRM' }).click()
  await page.getByTestId('node-send_webhook_1').waitFor()

  // 13. An active version is read-only; editing makes a new draft.
  log('edit an active scenario as a new draft')
  await page.getByTestId('node-send_webhook_1').click()
  await page.getByRole('tab', { name: 'Settings' }).click()
  const liveUrl = page.getByRole('textbox', { name: 'URL' })
  assert.equal(await liveUrl.getAttribute('readonly'), '')
  await page.getByRole('button', { name: 'Edit as a new draft' }).click()
  assert.equal(await liveUrl.getAttribute('readonly'), null)
  await page.getByLabel('Timeout').fill('5s')
  await page.getByTestId('unsaved').waitFor()
  await page.getByRole('button', { name: 'Save' }).click()
  await page.getByText(/Saved as draft version 3/).waitFor()
  await page.locator('.topbar .badge-active').waitFor() // v2 keeps running
  await page.getByRole('button', { name: 'Activate v3' }).click()
  await page.getByText(/Version 3 is live/).waitFor()
  const v3 = await api(base, 'GET', `/api/v1/scenarios/${scenarioId}`)
  assert.equal(v3.body.active_version, 3)
  assert.equal(v3.body.graph.nodes.find((n) => n.id === 'send_webhook_1').config.timeout, '5s')

  // 14. Keyboard users add and connect steps.
  log('keyboard')
  await page.getByRole('link', { name: 'Scenarios' }).click()
  await page.getByRole('link', { name: 'Signup to CRM' }).waitFor()
  await page.getByRole('button', { name: 'Duplicate Signup to CRM' }).click()
  await page.getByRole('link', { name: 'Signup to CRM (copy)' }).click()
  await page.getByTestId('node-send_webhook_1').waitFor()
  await page.getByTestId('node-send_webhook_1').click()
  await page.locator('.palette-item[data-type="condition"]').focus()
  await page.keyboard.press('Enter')
  await page.getByTestId('node-condition_1').waitFor()
  await waitFor('edge to the condition', async () => (await page.locator('.react-flow__edge').count()) === 2, 5000)
  await page.locator('.palette-item[data-type="end"]').focus()
  await page.keyboard.press('Enter') // after the selected condition: its "yes" output
  await page.getByTestId('node-end_1').waitFor()
  const condPanelSelect = async () => {
    await page.getByTestId('node-condition_1').click()
    return page.getByRole('complementary', { name: 'Condition step' })
  }
  const cond = await condPanelSelect()
  await cond.getByLabel('Connect to').selectOption('end_1')
  await cond.getByLabel('Output').selectOption('no')
  await cond.getByRole('button', { name: 'Connect', exact: true }).click()
  await cond.getByText('Connected to end_1.').waitFor()
  await page.keyboard.press('Control+z')
  await waitFor('undo', async () => (await page.locator('.react-flow__edge').count()) === 3, 5000)
  await page.keyboard.press('Control+Shift+z')
  await waitFor('redo', async () => (await page.locator('.react-flow__edge').count()) === 4, 5000)
  await page.getByRole('button', { name: 'Auto-layout' }).click()
  await page.getByRole('button', { name: 'Save' }).click()
  await page.getByText(/Saved as draft version 2.*problem/).waitFor() // the condition has no expression yet
  await page.getByTestId('node-condition_1').locator('.step-problem-badge').waitFor()
  await page.getByTestId('node-condition_1').click()
  await page.getByRole('complementary', { name: 'Condition step' }).locator('[data-field="expression"] .field-error').waitFor()
  const copy = (await api(base, 'GET', '/api/v1/scenarios')).body.scenarios.find((s) => s.name === 'Signup to CRM (copy)')
  const copyGraph = (await api(base, 'GET', `/api/v1/scenarios/${copy.id}`)).body.graph
  assert.deepEqual(
    copyGraph.edges.filter((e) => e.from === 'condition_1').map((e) => [e.to, e.label]).sort(),
    [
      ['end_1', 'no'],
      ['end_1', 'yes'],
    ],
  )
  await shot('validation.png')

  // 15. Inbound webhooks: create one in the UI, call its quick-way URL, watch the activity move.
  log('inbound webhook')
  const list = await api(base, 'POST', '/api/v1/lists', { name: 'Newsletter' })
  assert.equal(list.status, 201, JSON.stringify(list.body))
  await page.getByRole('link', { name: 'Scenarios' }).click()
  await page.getByRole('heading', { name: 'Automation scenarios' }).waitFor()
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inbound webhooks' }).click()
  await page.getByText('No inbound webhooks yet').waitFor()
  await page.getByRole('button', { name: 'New inbound webhook' }).click()
  const create = page.getByRole('dialog', { name: 'New inbound webhook' })
  await create.getByLabel('Name').fill('Lead form')
  await create.getByLabel('Target list').selectOption({ label: 'Newsletter' })
  await create.getByRole('button', { name: 'Add custom field' }).click()
  await create.getByLabel('Custom fields key 1').fill('c3')
  await create.getByLabel('Custom fields value 1').fill('First name')
  await shot('inbound-create.png')
  await create.getByRole('button', { name: 'Create webhook' }).click()
  await page.waitForURL(/\/inbound-webhooks\/inb_/)
  const hookUrl = await text(page.getByTestId('inbound-url'))
  const hookKey = await text(page.getByTestId('inbound-api-key'))
  assert.match(hookUrl, new RegExp(`^${base}/hooks/inb_`))
  assert.match(await text(page.getByTestId('inbound-secret-key')), /^[0-9a-f]{64}$/)
  assert.match(await text(page.getByRole('region', { name: /Inbound webhook Lead form/ }).locator('pre[aria-label="Quick way example"]')), /api-key=.*&email=john%40example\.org&c3=First%20name/)
  await page.getByTestId('custom-field-row').getByText('First name').waitFor()
  await waitFor('activity 0', async () => (await text(page.getByTestId('inbound-accepted'))) === '0', 10_000)
  const quick = await fetch(`${hookUrl}?api-key=${encodeURIComponent(hookKey)}&email=lead%40example.org&c3=Lin`)
  assert.equal(quick.status, 200)
  assert.equal((await quick.json()).status, 'subscribed')
  const wrong = await fetch(`${hookUrl}?api-key=not-the-key&email=lead%40example.org`)
  assert.equal(wrong.status, 401)
  await waitFor('accepted = 1 in the page', async () => (await text(page.getByTestId('inbound-accepted'))) === '1', 15_000)
  await waitFor('refused = 1 in the page', async () => (await text(page.getByTestId('inbound-refused'))) === '1', 15_000)
  assert.match(await text(page.getByTestId('refusal').first()), /Wrong API key/)
  // The guide's secure-way shell example works as shown (openssl and xxd, when present).
  const hasTools = ['openssl', 'xxd'].every((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  })
  if (hasTools) {
    const secure = (await page.locator('pre[aria-label="Secure way example"]').innerText()).replace('john@example.org', 'secure@example.org')
    const out = execFileSync('bash', ['-c', secure], { encoding: 'utf8' })
    assert.equal(JSON.parse(out).status, 'subscribed', out)
    await waitFor('accepted = 2 in the page', async () => (await text(page.getByTestId('inbound-accepted'))) === '2', 15_000)
    const found = (await api(base, 'GET', '/api/v1/contacts?email=secure%40example.org')).body
    assert.equal((found?.contacts?.[0] ?? found)?.email, 'secure@example.org')
  } else {
    log('openssl or xxd missing: the secure-way example is not run')
  }
  const lead = await api(base, 'GET', '/api/v1/contacts?email=lead%40example.org')
  assert.equal(lead.status, 200)
  await page.locator('.chart canvas').first().waitFor()
  await shot('inbound.png')
  await page.getByText('The quick way').scrollIntoViewIfNeeded()
  await shot('inbound-guide.png')

  // 16. Event subscriptions: one on a failing URL; deactivate, then reactivate with replay in the UI.
  log('event subscription')
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Event subscriptions' }).click()
  await page.getByText('No event subscriptions yet').waitFor()
  await page.getByRole('button', { name: 'New subscription' }).click()
  const newSub = page.getByRole('dialog', { name: 'New event subscription' })
  await newSub.getByLabel('App').fill('crm')
  await newSub.getByLabel('Event').selectOption('optin_finalized')
  await newSub.getByLabel('URL').fill(`${receiver.url}/fail/optin`)
  await newSub.getByLabel('List (optional)').selectOption({ label: 'Newsletter' })
  await newSub.getByRole('button', { name: 'Create subscription' }).click()
  await page.getByText('Subscription created').waitFor()
  const subs = (await api(base, 'GET', '/api/v1/webhooks')).body.webhooks
  assert.equal(subs.length, 1)
  assert.equal(subs[0].list_id, list.body.id)
  const subRow = page.getByTestId(`subscription-${subs[0].id}`)
  assert.equal(await text(subRow.getByTestId('sub-status')), 'Active')
  // An opt-in makes a delivery to /fail: the failure shows in the row.
  const optin = await fetch(`${hookUrl}?api-key=${encodeURIComponent(hookKey)}&email=second%40example.org`)
  assert.equal(optin.status, 200)
  await waitFor('the delivery to the failing URL', async () => receiver.requests.some((r) => r.url === '/fail/optin'), 20_000)
  await waitFor('the failure in the row', async () => /\d+ in a row/.test(await text(subRow)), 20_000)
  await subRow.getByRole('button', { name: 'Deactivate crm optin_finalized' }).click()
  await waitFor('deactivated', async () => (await text(subRow.getByTestId('sub-status'))) === 'Deactivated', 10_000)
  assert.match(await text(subRow), /deactivated by request/)
  // While it is inactive, an opt-in is buffered.
  const buffered = await fetch(`${hookUrl}?api-key=${encodeURIComponent(hookKey)}&email=third%40example.org`)
  assert.equal(buffered.status, 200)
  await waitFor('a buffered event', async () => /1 event buffered/.test(await text(subRow)), 20_000)
  await shot('subscriptions-deactivated.png')
  await subRow.getByRole('button', { name: 'Reactivate crm optin_finalized' }).click()
  const reactivate = page.getByRole('dialog', { name: 'Reactivate subscription' })
  await reactivate.getByLabel(/Replay buffered events/).check()
  await shot('subscriptions-reactivate.png')
  await reactivate.getByRole('button', { name: 'Reactivate' }).click()
  await page.getByText('Reactivated: the buffered events are being delivered').waitFor()
  await waitFor('active again', async () => (await text(subRow.getByTestId('sub-status'))) === 'Active', 10_000)
  const after = (await api(base, 'GET', `/api/v1/webhooks/${subs[0].id}`)).body
  assert.equal(after.active, true)
  assert.equal(after.buffered, 0)
  assert.equal(after.replayed, 1)
  await waitFor('the replayed delivery', async () => receiver.requests.filter((r) => r.url === '/fail/optin').length >= 2, 20_000)
  await shot('subscriptions.png')

  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page')
}

let failed = false
try {
  await main()
  log('PASS')
} catch (err) {
  failed = true
  console.error(err)
  if (page) {
    const p = join(tmp, 'failure.png')
    await page.screenshot({ path: p }).catch(() => {})
    console.error(`failure screenshot: ${p}`)
  }
  console.error('--- sluice log (last 60 lines)\n' + sluiceLog.split('\n').slice(-60).join('\n'))
} finally {
  for (const c of cleanups) await c().catch(() => {})
  writeFileSync(join(tmp, 'sluice.log'), sluiceLog)
  if (!failed && !process.env.E2E_KEEP) rmSync(tmp, { recursive: true, force: true })
  else console.error(`kept ${tmp}`)
}
process.exit(failed ? 1 : 0)
