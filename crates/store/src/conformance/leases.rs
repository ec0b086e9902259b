//! Conformance of the workers' leases and fenced writes ([`crate::lease`]).

use super::{d, fill, filled, funded_bot, new_bot, order};
use crate::*;
use smartfolio_exchange::Side;

fn rebalance(bot_id: BotId, seq: i64, client_id: &str, time_ms: i64) -> NewRebalance {
    NewRebalance {
        bot_id,
        seq,
        kind: "rebalance".into(),
        reason: "drift".into(),
        time_ms,
        plan: "{}".into(),
        orders: vec![order(client_id, 0, Side::Buy)],
        bot: None,
    }
}

fn held(store_lease: Option<Lease>) -> Lease {
    store_lease.expect("the lease is free, so it is taken")
}

/// Assert a fenced refusal naming both epochs.
fn assert_fenced<T: std::fmt::Debug>(
    r: StoreResult<T>,
    want_held: Option<i64>,
    want_given: i64,
    why: &str,
) {
    match r {
        Err(e @ StoreError::Fenced { .. }) => {
            let StoreError::Fenced {
                held_epoch,
                given_epoch,
                why: reason,
                ..
            } = &e
            else {
                unreachable!()
            };
            assert_eq!((*held_epoch, *given_epoch), (want_held, want_given), "{e}");
            assert!(reason.contains(why), "{e}");
            let text = e.to_string();
            assert!(
                text.contains(&format!("lease epoch {want_given}")),
                "{text}"
            );
            let held_text = want_held.map_or("none".to_string(), |h| h.to_string());
            assert!(text.contains(&format!("at epoch {held_text}")), "{text}");
            assert!(text.contains("paper account"), "{text}");
        }
        other => panic!("a fenced refusal ({why}) expected, got {other:?}"),
    }
}

/// A lease is taken when free, refused while held (to anyone, its holder too), renewed by its
/// holder only, taken over once expired at epoch + 1, and released; accounts are independent.
pub async fn leases_are_taken_renewed_expired_and_released(store: &dyn Store) {
    assert!(store.leases().await.unwrap().is_empty());
    let l1 = held(
        store
            .acquire_lease("paper", "main", "w1", 1000, 100)
            .await
            .unwrap(),
    );
    assert_eq!(
        (l1.epoch, l1.expires_ms, l1.holder.as_str()),
        (1, 1100, "w1")
    );
    for w in ["w2", "w1"] {
        let again = store.acquire_lease("paper", "main", w, 1099, 100).await;
        assert_eq!(again.unwrap(), None, "{w} takes a held lease");
    }
    // Renewed by its holder at its epoch; not by another worker.
    let Renewal::Held(r) = store
        .renew_lease(&l1.fence(), "w1", 1080, 100)
        .await
        .unwrap()
    else {
        panic!("the holder's renewal is refused")
    };
    assert_eq!((r.epoch, r.expires_ms), (1, 1180));
    let not_w2 = store.renew_lease(&l1.fence(), "w2", 1090, 100).await;
    assert!(matches!(not_w2.unwrap(), Renewal::Lost { .. }));
    // Held until 1180 (exclusive), then taken over with the next epoch.
    assert_eq!(
        store
            .acquire_lease("paper", "main", "w2", 1179, 100)
            .await
            .unwrap(),
        None
    );
    let l2 = held(
        store
            .acquire_lease("paper", "main", "w2", 1180, 100)
            .await
            .unwrap(),
    );
    assert_eq!(
        (l2.epoch, l2.expires_ms, l2.holder.as_str()),
        (2, 1280, "w2")
    );
    // The old holder's renewal after the takeover is refused and names the new holder.
    match store
        .renew_lease(&l1.fence(), "w1", 1181, 100)
        .await
        .unwrap()
    {
        Renewal::Lost { current: Some(c) } => {
            assert_eq!((c.holder.as_deref(), c.epoch), (Some("w2"), 2))
        }
        other => panic!("the old holder renewed after a takeover: {other:?}"),
    }
    // An expired lease is not renewed, even by its holder: it is taken again at a new epoch.
    assert!(matches!(
        store
            .renew_lease(&l2.fence(), "w2", 1280, 100)
            .await
            .unwrap(),
        Renewal::Lost { .. }
    ));
    // Release: only by the holder at its epoch; the epoch stays and the next take bumps it.
    let l3 = held(
        store
            .acquire_lease("paper", "main", "w2", 1300, 100)
            .await
            .unwrap(),
    );
    assert_eq!(l3.epoch, 3);
    assert!(!store.release_lease(&l3.fence(), "w1").await.unwrap());
    assert!(!store.release_lease(&l2.fence(), "w2").await.unwrap());
    assert!(store.release_lease(&l3.fence(), "w2").await.unwrap());
    let other = held(
        store
            .acquire_lease("paper", "side", "w2", 1310, 100)
            .await
            .unwrap(),
    );
    assert_eq!(other.epoch, 1, "another account has its own epochs");
    assert_eq!(
        store.leases().await.unwrap(),
        vec![
            LeaseRecord {
                venue: "paper".into(),
                account: "main".into(),
                holder: None,
                epoch: 3,
                expires_ms: 0,
            },
            LeaseRecord {
                venue: "paper".into(),
                account: "side".into(),
                holder: Some("w2".into()),
                epoch: 1,
                expires_ms: 1410,
            },
        ]
    );
    let l4 = held(
        store
            .acquire_lease("paper", "main", "w1", 1320, 100)
            .await
            .unwrap(),
    );
    assert_eq!((l4.epoch, l4.holder.as_str()), (4, "w1"));
    // Bad arguments name the field.
    for (worker, ttl, field) in [
        ("w1", 0, "ttl_ms"),
        ("", 100, "worker"),
        ("w1", i64::MAX, "ttl_ms"),
    ] {
        let e = store
            .acquire_lease("paper", "new", worker, 1000, ttl)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Invalid { field: f, .. } if *f == field),
            "{e}"
        );
    }
    assert_eq!(
        store.leases().await.unwrap().len(),
        2,
        "a refused take writes nothing"
    );
}

/// Two workers (two handles on one database) take one free account at the same time: exactly
/// one gets it, at epoch 1, and the store names it.
pub async fn two_workers_race_for_one_account(a: &dyn Store, b: &dyn Store) {
    let (ra, rb) = tokio::join!(
        a.acquire_lease("paper", "main", "wa", 1000, 60_000),
        b.acquire_lease("paper", "main", "wb", 1000, 60_000),
    );
    let won: Vec<Lease> = [ra.unwrap(), rb.unwrap()].into_iter().flatten().collect();
    assert_eq!(won.len(), 1, "{won:?}");
    assert_eq!(won[0].epoch, 1);
    let rows = a.leases().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].holder.as_deref(), Some(won[0].holder.as_str()));
}

/// A bot's store state that a refused write must leave as it was.
async fn state(
    store: &dyn Store,
    id: BotId,
) -> (
    Vec<RebalanceRecord>,
    Vec<OrderRecord>,
    Vec<FillRecord>,
    Vec<LedgerEntry>,
) {
    (
        store.rebalances(id).await.unwrap(),
        store.orders(id).await.unwrap(),
        store.fills(id).await.unwrap(),
        store.ledger(id).await.unwrap(),
    )
}

/// Fenced writes: the holder's go through; after a takeover the old holder's rebalance, added
/// orders and fills are refused naming both epochs and write nothing, while the new holder's
/// succeed; an expired or released lease, an account never leased and a fence for another
/// account are refused too.
pub async fn fenced_writes_refuse_a_stale_epoch(store: &dyn Store) {
    let id = funded_bot(store).await;
    let l1 = held(
        store
            .acquire_lease("paper", "main", "w1", 1000, 1500)
            .await
            .unwrap(),
    );
    let f1 = l1.fence();
    let rb1 = store
        .begin_rebalance_fenced(&rebalance(id, 1, "c1", 1500), Some(&f1))
        .await
        .unwrap();
    let f = fill("F1", "c1", Side::Buy, d("0.5"), d("1000"), d("0"));
    store
        .apply_fills_fenced(&filled("c1", d("0.5")), &[f], Some(&f1))
        .await
        .unwrap();
    store
        .add_orders_fenced(rb1, &[order("c1b", 1, Side::Buy)], 2100, Some(&f1))
        .await
        .unwrap();

    // w2 takes the expired lease over.
    let l2 = held(
        store
            .acquire_lease("paper", "main", "w2", 2500, 1000)
            .await
            .unwrap(),
    );
    assert_eq!(l2.epoch, 2);
    let f2 = l2.fence();
    let before = state(store, id).await;
    assert_eq!(
        (
            before.0.len(),
            before.1.len(),
            before.2.len(),
            before.3.len()
        ),
        (1, 2, 1, 3)
    );

    // The old holder's writes, even dated before the takeover, are refused.
    let r = store
        .begin_rebalance_fenced(&rebalance(id, 2, "c2", 2400), Some(&f1))
        .await;
    assert_fenced(r, Some(2), 1, "changed hands");
    let r = store
        .add_orders_fenced(rb1, &[order("c3", 2, Side::Buy)], 2600, Some(&f1))
        .await;
    assert_fenced(r, Some(2), 1, "changed hands");
    let late = OrderUpdate {
        time_ms: 2600,
        ..filled("c1b", d("0.5"))
    };
    let f = fill("F2", "c1b", Side::Buy, d("0.5"), d("1000"), d("0"));
    let r = store
        .apply_fills_fenced(&late, std::slice::from_ref(&f), Some(&f1))
        .await;
    assert_fenced(r, Some(2), 1, "changed hands");
    assert_eq!(
        state(store, id).await,
        before,
        "a refused write wrote something"
    );
    assert!(store.order("c2").await.unwrap().is_none());
    assert!(store.order("c3").await.unwrap().is_none());
    assert_eq!(
        store.order("c1b").await.unwrap().unwrap().status,
        OrderState::Pending
    );

    // The new holder's writes go through.
    let applied = store
        .apply_fills_fenced(&late, std::slice::from_ref(&f), Some(&f2))
        .await
        .unwrap();
    assert_eq!(applied.new_fills.len(), 1);
    store
        .begin_rebalance_fenced(&rebalance(id, 2, "c2", 2700), Some(&f2))
        .await
        .unwrap();
    assert_eq!(
        store.balances(id).await.unwrap(),
        vec![("BTC".into(), d("1"))]
    );
    assert_eq!(store.fills(id).await.unwrap().len(), 2);
    let after = state(store, id).await;

    // Expired (held until 3500, exclusive) and released leases fence their holder's writes.
    let r = store
        .begin_rebalance_fenced(&rebalance(id, 3, "c4", 3500), Some(&f2))
        .await;
    assert_fenced(r, Some(2), 2, "expired");
    assert!(store.release_lease(&f2, "w2").await.unwrap());
    let r = store
        .begin_rebalance_fenced(&rebalance(id, 3, "c4", 3000), Some(&f2))
        .await;
    assert_fenced(r, Some(2), 2, "released");

    // An account never leased, and a fence for another account than the bot's.
    let mut beta = new_bot("beta");
    beta.account = "side".into();
    let beta = store.create_bot(&beta).await.unwrap();
    let r = store
        .begin_rebalance_fenced(&rebalance(beta, 1, "c5", 3000), Some(&f2))
        .await;
    assert_fenced(r, None, 2, "the fence is for paper account main");
    let side = Fence {
        venue: "paper".into(),
        account: "side".into(),
        epoch: 1,
    };
    let r = store
        .begin_rebalance_fenced(&rebalance(beta, 1, "c5", 3000), Some(&side))
        .await;
    assert_fenced(r, None, 1, "never been leased");
    assert!(store.rebalances(beta).await.unwrap().is_empty());
    assert_eq!(state(store, id).await, after);
    // Without a fence (single-process mode) the same write goes through.
    store
        .begin_rebalance(&rebalance(beta, 1, "c5", 3000))
        .await
        .unwrap();
}
