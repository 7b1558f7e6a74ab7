import { chromium } from 'playwright-core';
const BASE = 'http://127.0.0.1:8091/';
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const mode = process.argv[2] || 'all';
const ctx = await b.newContext({ viewport: { width: 1440, height: 900 } });
const p = await ctx.newPage();
p.on('console', (m) => { if (m.type() === 'error') console.log('console', m.text()); });
await p.goto(BASE); await p.waitForSelector('body[data-ready]');
await p.screenshot({ path: '/tmp/look/desk.png' });
if (mode === 'all' || mode === 'run') {
  await p.click('[data-testid="preset-spiral-mlp"]').catch(e => console.log('no preset', e.message));
  await p.click('[data-testid="start"]');
  await p.waitForTimeout(20000);
  await p.screenshot({ path: '/tmp/look/run.png', fullPage: true });
  await p.click('[data-testid="stop"]').catch(e => console.log('no stop', e.message));
  await p.waitForTimeout(1500);
  await p.screenshot({ path: '/tmp/look/stopped.png', fullPage: true });
}
const ph = await b.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, deviceScaleFactor: 1 });
const pp = await ph.newPage(); await pp.goto(BASE); await pp.waitForSelector('body[data-ready]');
await pp.screenshot({ path: '/tmp/look/phone.png' });
const dk = await b.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'dark' });
const pd = await dk.newPage(); await pd.goto(BASE); await pd.waitForSelector('body[data-ready]');
await pd.screenshot({ path: '/tmp/look/dark.png' });
await b.close();
