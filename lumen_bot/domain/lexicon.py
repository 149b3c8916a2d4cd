"""Words that say what a message is about, in English, Spanish, German, French and Portuguese.

The trained model learns from a few hundred messages per language; a word it saw twice ("Rückerstattung")
teaches it less than a list a person can write in a minute. Each group here becomes one signal for the
model ("the message speaks of a refund"), whose weight the model learns like any other feature — a
signal, never a decision. Read on :func:`~lumen_bot.domain.features.plain_words` (lower case, no
accents, "0" for numbers): each entry matches the start of a word, or a phrase.
"""

from __future__ import annotations

import re

# fmt: off
_GROUPS: dict[str, tuple[str, ...]] = {
    "refund": (
        "refund", "reimburs", "money back", "chargeback", "charge back", "reembols",
        "devuelv\\w* (?:el|mi) dinero", "dinero de vuelta", "devolucion del dinero", "estorn",
        "dinheiro de volta", "devolv\\w* o dinheiro", "rembours", "avoir", "geld zuruck", "mein geld",
        "ruckerstatt", "erstatt", "gutschrift", "ruckbuch",
    ),
    "return": (
        "return", "send (?:it |them |this )?back", "exchange", "devolver", "devolucion", "devoluc",
        "cambiar", "cambio", "retour", "renvoy", "retourn", "echang", "zuruckschick", "zurucksend",
        "zuruckgeb", "umtausch", "umtauschen", "retoure", "ruckgabe", "ruecksend", "devolv", "troca",
        "trocar",
    ),
    "cancel": (
        "cancel", "cancelar", "cancela", "anula", "annul", "stornier", "storno", "widerruf", "desist",
        "ya no (?:lo|la) quiero", "nao quero mais", "nen veux plus", "will (?:sie|es) nicht mehr",
    ),
    "address": (
        "address", "direccion", "domicilio", "adresse", "anschrift", "lieferadresse", "endereco",
        "morada", "redirect", "reroute", "umleit", "moved", "me mude", "umgezogen", "demenage", "mudei",
    ),
    "damaged": (
        "damag", "broke", "crack", "defect", "faulty", "smash", "scratch", "dent", "leak", "torn",
        "roto", "rota", "danad", "estropead", "defectuos", "no funciona", "rayad", "cass", "abim",
        "endommag", "defectueu", "ne marche", "ne fonctionne", "fissur", "raye", "kaputt", "beschadig",
        "defekt", "zerbroch", "funktioniert nicht", "zerkratzt", "quebrad", "danific", "avariad",
        "com defeito", "nao funciona", "riscad", "amassad", "rachad",
    ),
    "missing": (
        "missing", "wrong item", "wrong product", "not what i ordered", "empty", "falta", "faltab",
        "falto", "faltou", "equivocad", "vacia", "manqu", "pas le bon", "vide", "fehlt", "fehlend",
        "falsch", "leer", "errad", "vazia", "incomplet", "unvollstandig",
    ),
    "payment": (
        "payment", "paid", "pay", "charged", "billed", "card", "declin", "pago", "pague", "cobr",
        "cargo", "tarjeta", "paiement", "paye", "debit", "prelev", "carte", "zahlung", "bezahl",
        "abgebucht", "karte", "pagamento", "paguei", "cartao", "boleto", "pix", "paypal", "klarna",
        "bizum", "mb way",
    ),
    "complaint": (
        "complain", "unacceptable", "scam", "disgrac", "terrible", "worst", "queja", "quejar", "reclam",
        "inaceptable", "estafa", "verguenza", "plainte", "inadmissible", "arnaque", "honte", "nul",
        "beschwer", "reklamation", "unverschamt", "betrug", "frechheit", "unmoglich", "procon", "golpe",
        "absurdo", "pessim",
    ),
    "person": (
        "human", "person", "agent", "representative", "someone", "somebody", "real people", "operator",
        "humano", "persona", "agente", "alguien", "asesor", "operador", "humain", "conseill",
        "quelquun", "personne", "operateur", "mensch", "mitarbeiter", "jemand", "berater",
        "kundenservice", "kundendienst", "pessoa", "atendente", "alguem", "atendimento",
        "customer service", "servicio al cliente", "service client", "call", "phone", "llam", "telefon",
        "appel", "anruf", "ligar", "liga",
    ),
    "tracking": (
        "track", "seguimiento", "rastre", "guia", "suivi", "sendungsverfolgung", "sendungsnummer",
        "verfolg", "sendungsnr", "codigo de rastreio", "numero de suivi", "link", "enlace", "lien",
    ),
    "when": (
        "when", "how long", "how much longer", "eta", "cuando", "cuanto tarda", "cuanto falta", "quand",
        "combien de temps", "delai", "wann", "wie lange", "bis wann", "quando", "quanto tempo", "prazo",
        "by (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|the weekend)",
        "para el", "avant", "vor dem", "ate",
    ),
    "arrive": (
        "arriv", "deliver", "ship", "dispatch", "came", "come", "receiv", "got it", "llega", "llego",
        "recib", "enviad", "entreg", "despach", "recu", "livr", "expedi", "envoy", "parti",
        "angekommen", "ankomm", "geliefert", "zugestellt", "verschickt", "versand", "unterwegs",
        "kommt", "erhalten", "bekommen", "chego", "cheg", "recebi", "entregue", "enviad", "despachad",
        "a caminho", "en camino", "en route",
    ),
    "not_yet": (
        "not yet", "hasnt", "havent", "still not", "never", "still waiting", "no ha", "no me ha",
        "todavia no", "aun no", "nunca", "sigo esperando", "pas encore", "toujours pas", "jamais",
        "pas recu", "noch nicht", "immer noch nicht", "nie", "warte", "ainda nao", "nao cheg",
        "nunca cheg", "esperando",
    ),
    "where": (
        "where", "donde", "ou est", "ou en est", "wo ist", "wo bleibt", "onde", "cade", "status",
        "estado", "statut", "situation", "stand",
    ),
    "order": (
        "order", "package", "parcel", "shipment", "purchase", "stuff", "pedido", "paquete", "envio",
        "compra", "encargo", "commande", "colis", "paquet", "achat", "bestell", "paket", "packchen",
        "lieferung", "sendung", "encomenda", "pacote", "produto", "orden",
    ),
    "greeting": (
        "hi", "hello", "hey", "good morning", "hola", "buenas", "buenos dias", "bonjour", "salut",
        "bonsoir", "hallo", "moin", "servus", "gruezi", "guten tag", "ola", "oi", "bom dia",
        "boa tarde",
    ),
    "thanks": (
        "thank", "thx", "cheers", "gracias", "merci", "danke", "obrigad", "valeu", "vielen dank",
    ),
    "help": (
        "help", "what can you", "are you a bot", "bot", "ayuda", "aide", "hilfe", "ajuda", "robot",
    ),
    # Who or what else sends, brings or owes something: "my sister sent me a box", "my Uber Eats order",
    # "the transfer to my landlord" — the shop's order is not what has not arrived.
    "someone_else": (
        "sister", "brother", "mum", "mom", "mother", "dad", "father", "grandm", "grandp", "friend", "cousin",
        "aunt", "uncle", "daughter", "wife", "husband", "boyfriend", "girlfriend", "baby", "hermana",
        "hermano", "madre", "mama", "padre", "papa", "abuel", "amig", "tia", "tio", "hijo", "hija", "novio",
        "novia", "bebe", "schwester", "bruder", "mutter", "vater", "oma", "opa", "freund", "tante", "onkel",
        "sohn", "tochter", "soeur", "frere", "mere", "pere", "ami", "copain", "copine", "fils", "fille",
        "irma", "irmao", "mae", "filh", "namorad", "uber eats", "ubereats", "deliveroo", "just eat",
        "glovo", "rappi", "ifood", "lieferando", "wolt", "swiggy", "zomato", "doordash", "grubhub", "cabify",
        "lyft", "taxi", "transfer", "pix", "virement", "uberweis", "salary", "sueldo", "gehalt", "salaire",
        "salario", "plumber", "fontaner", "plombier", "klempner", "encanador", "technician", "tecnico",
        "techniker", "technicien", "i sent", "le mande", "ich habe .* geschickt", "jai envoye", "enviei",
        "mandei",
    ),
    "details": (
        "my email", "e ?mail", "correo", "mail", "order number", "numero de pedido", "bestellnummer",
        "numero de commande", "numero do pedido", "its", "es el", "cest", "das ist", "e o",
    ),
}
# fmt: on
_PATTERNS = tuple((name, re.compile(r"\b(?:" + "|".join(entries) + ")")) for name, entries in _GROUPS.items())


# A time, status or arrival word says little without a parcel or an order beside it: "my friend hasn't
# arrived", "when does the train come". The model is linear, so the pairing is a signal of its own.
_NEED_A_SUBJECT = frozenset({"when", "where", "arrive", "not_yet", "tracking"})
_ARRIVAL = frozenset({"arrive", "not_yet", "when", "where"})


def keyword_signals(words: list[str]) -> list[str]:
    """The groups a message's plain words touch, as model signals: ``["k refund", "k order"]``, and
    ``"k when, no order"`` for a time or status word with no order named."""
    text = " ".join(words)
    touched = [name for name, pattern in _PATTERNS if pattern.search(text)]
    found = [f"k {name}" for name in touched]
    if "order" not in touched and "0" not in words:
        found += [f"k {name}, no order" for name in touched if name in _NEED_A_SUBJECT]
    if "someone_else" in touched:
        found += [f"k {name}, someone else" for name in touched if name in _ARRIVAL]
    return found
