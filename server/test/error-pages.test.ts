/**
 * Links that do not work: a person's browser (a tab or a frame) gets a styled page in their language; a script
 * fetching the same address keeps the contract's JSON or text answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, Client, signUp, startHarness, type Harness } from './support/harness.js';
import { requestLanguageOf } from '../src/language.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
}, 60_000);
afterAll(async () => {
  await h?.close();
});

const asTab = (lang: string) => ({ 'sec-fetch-dest': 'document', 'accept-language': lang, accept: 'text/html' });

describe('error pages', () => {
  it("pick the reader language: the app's choice (its cookie), else Accept-Language by preference", () => {
    const pageLanguage = (acceptLanguage: string | undefined, cookie?: string) => requestLanguageOf({ acceptLanguage, cookie });
    expect(pageLanguage('ja-JP,ja;q=0.9,en;q=0.8')).toBe('ja');
    expect(pageLanguage('en-US,en;q=0.9,ja;q=0.8')).toBe('en');
    expect(pageLanguage('fr-FR,ja;q=0.5,en;q=0.4')).toBe('ja');
    expect(pageLanguage('en;q=0.2,ja;q=0.9')).toBe('ja');
    expect(pageLanguage('fr-FR,pt-BR;q=0.9')).toBe('pt');
    expect(pageLanguage('zh-TW,zh;q=0.9')).toBe('zh');
    expect(pageLanguage('de')).toBe('en');
    expect(pageLanguage(undefined)).toBe('en');
    expect(pageLanguage('en-US', 'theme=dark; dreamcore_lang=ko')).toBe('ko');
    expect(pageLanguage('ja', 'dreamcore_lang=xx')).toBe('ja');
  });

  it('a malformed play link, a missing game and an unknown address are pages in the reader language', async () => {
    const bad = await api(h.url)('GET', '/play/not-a-game', undefined, asTab('ja'));
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/text\/html/);
    expect(bad.text).toContain('<html lang="ja">');
    expect(bad.text).toContain('このリンクはゲームにつながっていません');
    const missing = await api(h.url)('GET', '/g/g_0000000000/index.html', undefined, { 'sec-fetch-dest': 'iframe', 'accept-language': 'en' });
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('This game is not here');
    const chosen = await api(h.url)('GET', '/play/not-a-game', undefined, { ...asTab('en-US'), cookie: 'dreamcore_lang=es' });
    expect(chosen.text).toContain('<html lang="es">');
    expect(chosen.text).toContain('Este enlace no lleva a un juego');
    expect(chosen.headers.get('content-language')).toBe('es');
    const nowhere = await api(h.url)('GET', '/no/such/page', undefined, asTab('en'));
    expect(nowhere.status).toBe(404);
    expect(nowhere.text).toContain('Page not found');
    // Scripts keep the contract's answers.
    expect((await api(h.url)('GET', '/g/g_0000000000/index.html')).text).toBe('Game not found');
    expect((await api(h.url)('GET', '/g/bad/index.html')).text).toBe('Invalid game ID');
  });

  it('an expired preview link: a page for a tab, the JSON error for a script', async () => {
    const user = await signUp(h.url);
    const ws = await Client.init(h.url, user.accessToken);
    ws.send({ type: 'createProject', name: 'Expired' });
    const projectId = (await ws.next((m) => m.type === 'projectCreated')).project.id as string;
    ws.close();
    const expired = h.server.ctx.signer.sign(user.userId, projectId, -5).url;
    const tab = await api(h.url)('GET', expired, undefined, asTab('en'));
    expect(tab.status).toBe(401);
    expect(tab.text).toContain('This preview link has expired');
    expect(tab.text).toContain('/js/preview-expired.js');
    const script = await api(h.url)('GET', expired);
    expect(script.status).toBe(401);
    expect(script.json).toEqual({ error: 'URL expired' });
    const valid = h.server.ctx.signer.sign(user.userId, projectId).url;
    const forged = await api(h.url)(
      'GET',
      valid.replace(/sig=([0-9a-f])/, (_m, c: string) => `sig=${c === '0' ? '1' : '0'}`),
      undefined,
      asTab('ja'),
    );
    expect(forged.status).toBe(401);
    expect(forged.text).toContain('このプレビューリンクは使えません');
  });
});
