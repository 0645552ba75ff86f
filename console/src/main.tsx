/**
 * The bqgate console: sign-in, then pages by hash route —
 * `#/` overview (charts), `#/approvals` inbox, `#/sessions` search, `#/sessions/<id>` timeline,
 * `#/playground` policy explain. Which pages show depends on the caller's roles (`GET /bqgate/v1/me`).
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'highlight.js/styles/github.css';
import './style.css';
import { completeSignIn, current, signIn, signOut } from './auth';
import { api } from './api';
import { ErrorBox } from './ui';
import { Approvals } from './pages/approvals';
import { Sessions, SessionView } from './pages/sessions';
import { Playground } from './pages/playground';
import { Overview } from './pages/overview';

export interface Me { subject: string; email?: string; groups: string[]; actor?: string; roles: { admin: boolean; auditor: boolean; approver: boolean }; policyVersion: string }

const useHash = () => {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => { const on = () => setHash(location.hash); addEventListener('hashchange', on); return () => removeEventListener('hashchange', on); }, []);
  return hash.replace(/^#/, '') || '/';
};

function App() {
  const [me, setMe] = useState<Me>();
  const [error, setError] = useState<unknown>();
  const route = useHash();
  useEffect(() => {
    (async () => {
      if (!(await completeSignIn()) && !current()) return signIn();
      setMe(await api<Me>('/me'));
    })().catch(setError);
  }, []);
  if (error) return <main class="page"><h1>Sign-in failed</h1><ErrorBox error={error} /><button onClick={() => { signOut(); location.assign('/console/'); }}>Try again</button></main>;
  if (!me) return <main class="page"><p class="muted">Signing in…</p></main>;

  const { auditor, approver } = me.roles;
  // Approvals for everyone: approvers decide there, requesters follow their own requests.
  const tabs = [
    auditor && ['/', 'Overview'], ['/approvals', 'Approvals'],
    auditor && ['/sessions', 'Sessions'], auditor && ['/playground', 'Playground'],
  ].filter(Boolean) as Array<[string, string]>;
  const section = '/' + (route.split('/')[1] ?? '');
  let page;
  if (route.startsWith('/sessions/')) page = <SessionView id={decodeURIComponent(route.slice('/sessions/'.length))} />;
  else if (route === '/sessions') page = <Sessions />;
  else if (route === '/playground') page = <Playground />;
  else if (route === '/approvals' || !auditor) page = <Approvals me={me} />;
  else page = <Overview />;
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">bqgate</a>
        <nav>{tabs.map(([href, label]) => <a key={href} href={`#${href}`} class={section === href ? 'active' : ''}>{label}</a>)}</nav>
        <div class="who" data-testid="who">
          <b>{me.subject}</b>
          <span class="muted">{[me.roles.admin && 'admin', auditor && 'auditor', approver && 'approver'].filter(Boolean).join(' · ') || me.groups.join(', ')}</span>
          <button class="link" onClick={() => { signOut(); location.assign('/console/'); }}>Sign out</button>
        </div>
      </header>
      <main class="page">{page}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
