package presets_test

import "testing"

func TestWithPrefixEmpty(t *testing.T) {
	in := "CREATE TABLE `orders` (\n `orders_id` int,\n KEY `orders` (`orders_id`)\n);\nCREATE TABLE IF NOT EXISTS products (x int);\nINSERT INTO orders (orders_id) VALUES (1);\nINSERT INTO `products` VALUES (2);"
	want := "CREATE TABLE `shop_orders` (\n `orders_id` int,\n KEY `orders` (`orders_id`)\n);\nCREATE TABLE IF NOT EXISTS shop_products (x int);\nINSERT INTO shop_orders (orders_id) VALUES (1);\nINSERT INTO `shop_products` VALUES (2);"
	if got := withPrefix(in, "", "shop_"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := withPrefix("CREATE TABLE `oc_order` (`oc_x` int); INSERT INTO oc_order VALUES (1)", "oc_", "shop_"); got != "CREATE TABLE `shop_order` (`shop_x` int); INSERT INTO shop_order VALUES (1)" {
		t.Errorf("prefixed: %s", got)
	}
}
