-- The classifier keeps the catalog in memory: every change to a catalog table
-- sends NOTIFY zwgk_catalog (once per statement), and the classifiers reload.
CREATE FUNCTION zw_catalog_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('zwgk_catalog', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER catalog_versions_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON catalog_versions
    FOR EACH STATEMENT EXECUTE FUNCTION zw_catalog_changed();
CREATE TRIGGER catalog_domains_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON catalog_domains
    FOR EACH STATEMENT EXECUTE FUNCTION zw_catalog_changed();
CREATE TRIGGER catalog_items_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON catalog_items
    FOR EACH STATEMENT EXECUTE FUNCTION zw_catalog_changed();
CREATE TRIGGER catalog_item_channels_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON catalog_item_channels
    FOR EACH STATEMENT EXECUTE FUNCTION zw_catalog_changed();
CREATE TRIGGER catalog_item_bodies_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON catalog_item_bodies
    FOR EACH STATEMENT EXECUTE FUNCTION zw_catalog_changed();
CREATE TRIGGER classification_rules_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON classification_rules
    FOR EACH STATEMENT EXECUTE FUNCTION zw_catalog_changed();
CREATE TRIGGER channels_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON channels
    FOR EACH STATEMENT EXECUTE FUNCTION zw_catalog_changed();
