package dev.ovation.ledger;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The gifts viewers can send (from configuration), in listing order; ids are unique. */
public record GiftCatalog(List<Gift> gifts) {
    public GiftCatalog {
        gifts = List.copyOf(gifts);
        Map<String, Gift> seen = new LinkedHashMap<>();
        for (Gift g : gifts) {
            if (seen.put(g.id(), g) != null) {
                throw new IllegalArgumentException("duplicate gift id " + g.id());
            }
        }
    }

    public Optional<Gift> find(String giftId) {
        return gifts.stream().filter(g -> g.id().equals(giftId)).findFirst();
    }

    /** The gift, or a LedgerException INVALID_REQUEST. */
    public Gift require(String giftId) {
        return find(giftId).orElseThrow(() -> new LedgerException(LedgerError.INVALID_REQUEST, "unknown gift " + giftId));
    }
}
