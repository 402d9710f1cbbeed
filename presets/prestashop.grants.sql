-- shipsync on PrestaShop 1.6: exactly what the prestashop preset reads and writes (shipsync init --preset prestashop --grants).
CREATE USER IF NOT EXISTS {{.User}} IDENTIFIED BY 'change-me';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}orders` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}order_detail` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}address` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}country` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}state` TO {{.User}};
GRANT UPDATE (shipping_number, current_state, valid, date_upd) ON `{{.Database}}`.`{{.Prefix}}orders` TO {{.User}};
GRANT SELECT, UPDATE (tracking_number) ON `{{.Database}}`.`{{.Prefix}}order_carrier` TO {{.User}};
GRANT SELECT, INSERT ON `{{.Database}}`.`{{.Prefix}}order_history` TO {{.User}};
-- The customer's private note, where delivery exceptions and returns are noted (nothing else of ps_customer).
GRANT SELECT (id_customer, note), UPDATE (note) ON `{{.Database}}`.`{{.Prefix}}customer` TO {{.User}};
