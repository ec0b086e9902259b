-- smartfolio store, schema 7: a market buy sized in quote (issue 13). The runtime sends a
-- rebalance's market buys as a quote amount (Binance `quoteOrderQty`, OKX `tgtCcy=quote_ccy`,
-- Gate's market buy `amount`), so a price that moves before the fill buys less rather than
-- spending more than the bot's cash. `quote_amount` is that amount (canonical decimal text);
-- `quantity` stays the base quantity planned. NULL for an order sized in base.

ALTER TABLE orders ADD COLUMN quote_amount TEXT;

UPDATE app_meta SET value = '7' WHERE key = 'schema_version';
