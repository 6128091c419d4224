-- Beyond V2: what the job manager needs that V2's schema lacked.
--  * jobs carry the agent run's cost and usage, and a stable failure code (V2 only had free-text `error`);
--  * at most one active (pending/processing) job per project, enforced by the database, so two messages racing
--    for the same project cannot both start a job (V2 checked in application code);
--  * job_events: every event the server sends for a job, numbered, so a client that reconnects is sent exactly
--    what it missed (V2 had no replay);
--  * projects.agent_session_id: the Claude CLI session to resume on the next message.

alter table public.jobs
  add column cost_usd numeric,
  add column input_tokens int,
  add column output_tokens int,
  add column wall_ms int,
  add column sandbox_ms int,
  add column session_id text,
  add column error_code text,
  add column recoverable boolean;

create unique index jobs_one_active_per_project on public.jobs (project_id)
  where status in ('pending', 'processing');

-- Written by the service role only; read by the job's owner. Rows go with their job (cascade).
create table public.job_events (
  job_id uuid not null references public.jobs (id) on delete cascade,
  seq int not null check (seq >= 0),
  type text not null,
  payload jsonb, -- any JSON value; SQL NULL and JSON null both read back as null
  created_at timestamptz not null default now(),
  primary key (job_id, seq)
);

alter table public.job_events enable row level security;
create policy job_events_select_own on public.job_events for select to authenticated
  using (exists (select 1 from public.jobs j where j.id = job_id and j.user_id = (select auth.uid())));

revoke all on public.job_events from anon, authenticated;
grant select on public.job_events to authenticated;
grant select, insert, update, delete on public.job_events to service_role;

alter table public.projects add column agent_session_id text;
