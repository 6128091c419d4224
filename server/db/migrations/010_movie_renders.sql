-- A promo-video render's state, one row per project, shared by every instance (docs/design.md, "Several instances").
-- The instance that renders (owner: its server_instances id) writes the progress here, so `GET …/movie-status`
-- answers the same on any instance, and two `POST …/generate-movie` on two instances start one render: a new render
-- takes the row only when the one in it has ended or its owner is no longer a live instance (it died with it, and
-- reads as failed, SERVER_RESTART). One instance alone keeps this in memory; the table is here on every database.
-- Nothing here is reachable by anon or authenticated: RLS on with no policy, and no privilege.

create table public.movie_renders (
  project_id uuid primary key references public.projects (id) on delete cascade,
  owner text not null,
  status text not null check (status in ('rendering', 'done', 'failed')),
  percent int not null default 0 check (percent between 0 and 100),
  stage text not null default 'starting',
  error text,
  code text,
  -- The answer a failed render's POST …/generate-movie?wait=true gets (503 unavailable, 404 no game, 500 …).
  http_status int,
  duration real,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  updated_at timestamptz not null default now()
);

alter table public.movie_renders enable row level security;
revoke all on public.movie_renders from anon, authenticated;
grant select, insert, update, delete on public.movie_renders to service_role;
