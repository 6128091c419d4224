-- Who is looking at the app, for several instances (docs/design.md, "Several instances"; server/src/presence.ts).
-- A job that ends while its user watches is not pushed and its notice is stored read; each instance knows its own
-- sockets, and writes here, per user, whether one of theirs on it is visible and heard from (at once when that
-- changes, else at most every few seconds), so the instance where a job ends can ask about the others.
-- Nothing here is reachable by anon or authenticated: RLS on with no policy, and no privilege.

create table public.user_presence (
  user_id uuid not null references public.users (id) on delete cascade,
  instance_id text not null,
  visible boolean not null,
  seen_at timestamptz not null default now(),
  primary key (user_id, instance_id)
);

alter table public.user_presence enable row level security;
revoke all on public.user_presence from anon, authenticated;
grant select, insert, update, delete on public.user_presence to service_role;
