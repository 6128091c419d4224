-- Beyond V2: a published game is a snapshot, and its address is the project's for life.
--  * commit_hash: the project version players get (V2 served the project's current files, so every edit went
--    live at once). Null for games published before this migration: those keep serving the current files until
--    their owner publishes again.
--  * unpublished_at: unpublishing hides the game instead of deleting its row, so publishing again brings back the
--    same public id (the links already shared) and the same play and like counts. Null while the game is live.

alter table public.published_games
  add column commit_hash text check (commit_hash ~ '^[0-9a-f]{40}([0-9a-f]{24})?$'),
  add column unpublished_at timestamptz;

-- Public reads see only live games.
drop policy published_games_select_public on public.published_games;
create policy published_games_select_public on public.published_games for select to anon, authenticated
  using (visibility = 'public' and unpublished_at is null);

drop index public.published_games_public_idx;
create index published_games_public_idx on public.published_games (published_at desc)
  where visibility = 'public' and unpublished_at is null;

-- A new snapshot, hiding and bringing back are edits of the game (a play or a like still is not).
drop trigger published_games_set_updated_at on public.published_games;
create trigger published_games_set_updated_at
  before update of project_id, user_id, title, description, how_to_play, tags, thumbnail_url, visibility, allow_remix,
    commit_hash, unpublished_at
  on public.published_games
  for each row execute function public.set_updated_at();

-- A hidden game is not played.
create or replace function public.increment_play_count(game_id uuid)
returns boolean
language sql volatile
set search_path = ''
as $$
  with played as (
    update public.published_games g set play_count = g.play_count + 1
    where g.id = game_id and g.visibility in ('public', 'unlisted') and g.unpublished_at is null
    returning 1
  )
  select exists (select 1 from played)
$$;
