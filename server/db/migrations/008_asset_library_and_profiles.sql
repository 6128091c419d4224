-- Issue 17: the asset library's management (rename, public/private) and profile editing (username, avatar).
--
-- Nothing new is stored: a renamed asset keeps its alias (the address games use) and only `original_name` (the name
-- shown) changes; a username and an avatar go in the users row's existing columns. What changes is WHO may write
-- which column. On Supabase a signed-in user can reach PostgREST directly with their own token, so the policies of
-- 001 alone would let them write any column of their own rows: set a username the server refuses (reserved, badly
-- formed), point `avatar_url` anywhere, change their e-mail or public id, un-delete an asset or change the MIME type
-- it is served with. Column privileges close that; the rows a user reaches are still decided by the RLS policies.

-- users: a signed-in user writes their display name, bio and links themselves (RLS: their own row). The username and
-- the avatar are written by the server (service role) after its checks: V2's format and reserved names, uniqueness
-- with a clear answer, an avatar that is a picture this server resized.
revoke update on public.users from authenticated;
grant update (display_name, bio, social_links) on public.users to authenticated;

-- V2's username rule (lower-case letters, digits and _; 3 to 20), now also in the database. Existing rows are kept as
-- they are (NOT VALID); every new write is checked. Lower-case only, so the unique constraint is case-insensitive.
alter table public.users
  add constraint users_username_format check (username is null or username ~ '^[a-z0-9_]{3,20}$') not valid;

-- assets: the owner renames (the shown name), describes, tags and publishes or hides their own assets (RLS: their
-- own rows). Deleting stays a service-role soft delete (V2), as do the stored file's name, hash, size and type.
revoke update on public.assets from authenticated;
grant update (original_name, tags, description, is_public) on public.assets to authenticated;

-- A shown name is one line of at most 200 characters (the upload route's limit); existing rows are kept as they are.
alter table public.assets
  add constraint assets_original_name_length check (original_name is null or char_length(original_name) between 1 and 200) not valid;
