-- 0011_portal_list_indexes: the portal's list pages without scanning every article.
--
-- Applied once, inside one transaction, by `zwgkctl db migrate`.
--
-- zwgk-portal writes its list pages once per batch of deliveries. The feed
-- (the 50 latest published articles) sorted every article to find them, and
-- the section index counted each column's published articles with one scan of
-- portal_articles per column: on a portal with tens of thousands of articles
-- that was seconds of PostgreSQL per batch, growing with the site.

-- The feed and the latest articles: read in order, stop after the limit.
CREATE INDEX portal_articles_published_idx ON portal_articles (published_at DESC, release_id)
    WHERE status = 'published';

-- The index page's count per column: one pass over this small index.
CREATE INDEX portal_articles_published_column_idx ON portal_articles (column_path)
    WHERE status = 'published';
