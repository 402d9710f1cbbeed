-- shipsync on Magento 2: exactly what the magento2 preset reads and writes (shipsync init --preset magento2 --grants).
-- One store view (1): for each other store view N the preset ships, add INSERT on sequence_shipment_N.
CREATE USER IF NOT EXISTS {{.User}} IDENTIFIED BY 'change-me';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO {{.User}};
GRANT SELECT, UPDATE (state, status) ON `{{.Database}}`.`{{.Prefix}}sales_order` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}sales_order_address` TO {{.User}};
GRANT SELECT, UPDATE (qty_shipped) ON `{{.Database}}`.`{{.Prefix}}sales_order_item` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}sales_order_status_state` TO {{.User}};
GRANT SELECT, INSERT ON `{{.Database}}`.`{{.Prefix}}sales_order_status_history` TO {{.User}};
GRANT SELECT (entity_id, status), UPDATE (status) ON `{{.Database}}`.`{{.Prefix}}sales_order_grid` TO {{.User}};
GRANT SELECT, INSERT, UPDATE (increment_id) ON `{{.Database}}`.`{{.Prefix}}sales_shipment` TO {{.User}};
GRANT SELECT, INSERT ON `{{.Database}}`.`{{.Prefix}}sales_shipment_item` TO {{.User}};
GRANT SELECT, INSERT ON `{{.Database}}`.`{{.Prefix}}sales_shipment_track` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}sales_sequence_meta` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}sales_sequence_profile` TO {{.User}};
GRANT INSERT ON `{{.Database}}`.`{{.Prefix}}sequence_shipment_1` TO {{.User}};
