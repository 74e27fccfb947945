CREATE TABLE `customers` ( `id` char(36) NOT NULL DEFAULT (uuid()), `user_id` char(36), `email` varchar(320) NOT NULL COMMENT 'Login e-mail', `org_id` varchar(40), `vip` boolean NOT NULL DEFAULT FALSE, `profile` json DEFAULT ('{\"lang\":\"en\"}'), `created_at` datetime(6) NOT NULL DEFAULT (current_timestamp(6)), `updated_at` datetime(6) NOT NULL DEFAULT (current_timestamp(6)) ON UPDATE current_timestamp(6), PRIMARY KEY (`id`), UNIQUE KEY `customers_email_key` (`email`) ) COMMENT 'People who buy';

CREATE INDEX `customers_user_id_policy_idx` ON `customers` (`user_id`);

CREATE INDEX `customers_org_id_policy_idx` ON `customers` (`org_id`);

CREATE TABLE `products` ( `id` char(36) NOT NULL DEFAULT (uuid()), `sku` varchar(32) NOT NULL, `name` longtext NOT NULL, `price` decimal(12,2) NOT NULL DEFAULT 0, `stock` bigint NOT NULL DEFAULT 0, `published` boolean NOT NULL DEFAULT TRUE, `released_on` date, `weight` double, `picture` longblob, PRIMARY KEY (`id`), UNIQUE KEY `products_sku_key` (`sku`), CONSTRAINT `products_check1` CHECK (`price` >= 0), CONSTRAINT `products_stock_check` CHECK (`stock` >= 0) );

CREATE INDEX `products_published_price_idx` ON `products` (`published`, `price`);

CREATE UNIQUE INDEX `products_live_sku_idx` ON `products` (`sku`, `published`);

CREATE TABLE `orders` ( `id` char(36) NOT NULL DEFAULT (uuid()), `number` int, `customer_id` char(36) NOT NULL, `status` enum('pending', 'paid', 'shipped', 'it\'s cancelled') NOT NULL DEFAULT 'pending', `note` longtext, `placed_at` datetime(6) NOT NULL DEFAULT (current_timestamp(6)), PRIMARY KEY (`id`), CONSTRAINT `orders_customer_id_fkey` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`) ON DELETE RESTRICT, CONSTRAINT `orders_note_check` CHECK (`note` <> '') );

CREATE INDEX `orders_customer_id_placed_at_idx` ON `orders` (`customer_id`, `placed_at`);

CREATE INDEX `orders_status_policy_idx` ON `orders` (`status`);

CREATE TABLE `order_items` ( `order_id` char(36) NOT NULL, `product_id` char(36) NOT NULL, `quantity` int NOT NULL DEFAULT 1, `unit_price` decimal(10,2) NOT NULL, PRIMARY KEY (`order_id`, `product_id`), CONSTRAINT `order_items_order_id_fkey` FOREIGN KEY (`order_id`) REFERENCES `orders` (`id`) ON DELETE CASCADE, CONSTRAINT `order_items_product_id_fkey` FOREIGN KEY (`product_id`) REFERENCES `products` (`id`), CONSTRAINT `order_items_quantity_check` CHECK (`quantity` > 0) );

CREATE INDEX `order_items_quantity_policy_idx` ON `order_items` (`quantity`);

CREATE TABLE `events` ( `id` bigint NOT NULL AUTO_INCREMENT, `kind` varchar(40) NOT NULL, `payload` json, `at` datetime(6) DEFAULT (current_timestamp(6)), PRIMARY KEY (`id`) );

