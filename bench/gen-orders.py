#!/usr/bin/python3
"""Writes a deterministic, realistic CSV for bench/orders.yaml's pipeline to stdout:
gen-orders.py ROWS. Mixed types, quoted names with commas and "" escapes, non-ASCII text,
long free-text notes (often null, sometimes over several lines), CRLF line ends, and about
2% of rows that break one rule (bad e-mail, quantity out of range, negative amount, no such
day, unknown status) so both sides reject the same rows.
gen-orders.py ROWS --wide: ten more columns (bench/orders-wide.yaml), twenty in all — SKU
pattern, numbers, integers, a boolean, a date, an enum, a country code, often-null extras."""
import random
import sys

FIRST = ['Anna', 'José', 'Mia', 'Noah', 'Zoë', 'Liam', 'Ólafur', 'Sofía', 'Wei', 'Aiko', 'Björn',
         'Chloé', 'Dmitri', 'Émile', 'Fatima', 'Grace', 'Hiroshi', 'Ingrid', 'Jürgen', 'Kateřina']
LAST = ['Smith', "O'Brien", 'García', 'Müller', 'Nguyen', 'Østergaard', 'Kowalski', 'Dubois',
        'van der Berg', 'Rossi', '山田', 'Łukasiewicz', 'Ferreira', 'Johansson', 'Papadopoulos']
WORDS = ('please deliver to the back door, ring twice; fragile items inside "handle with care" '
         'customer asked for a call before delivery gift wrap requested invoice to accounting '
         'département Straße café naïve façade — résumé 10% off, coupon "SPRING24" applied').split()
STATUS = ['new', 'paid', 'shipped', 'cancelled']


def quote(s):
        if any(c in s for c in ',"\r\n'):
                return '"' + s.replace('"', '""') + '"'
        return s


def row(rnd, i):
        order = f'O{10000000 + i // 3:08d}'
        line = str(i % 3 + 1)
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        customer = f'{last}, {first}' if rnd.random() < 0.7 else f'{first} "{first[:2]}" {last}'
        email = f'{first.lower()}.{last.lower().replace(" ", "")}{i % 997}@example.com'
        amount = f'{rnd.randrange(1, 10 ** 6) / 100:.2f}'
        quantity = str(rnd.randrange(0, 1001))
        paid = rnd.choice(['true', 'false', 'yes', 'no', 'TRUE'])
        created = f'2024-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}T{rnd.randrange(24):02d}:{rnd.randrange(60):02d}:{rnd.randrange(60):02d}Z'
        status = rnd.choice(STATUS)
        notes = ''
        if rnd.random() < 0.6:
                notes = ' '.join(rnd.choice(WORDS) for _ in range(rnd.randrange(5, 45)))
                if rnd.random() < 0.05:
                        notes = notes.replace('; ', ';\n', 1)
        bad = rnd.random()
        if bad < 0.004:
                email = email.replace('@', ' at ')
        elif bad < 0.008:
                quantity = '1500'
        elif bad < 0.012:
                amount = '-' + amount
        elif bad < 0.016:
                created = '2023-02-30T10:00:00Z'
        elif bad < 0.02:
                status = 'lost'
        return ','.join(quote(x) for x in (order, line, customer, email, amount, quantity, paid,
                                            created, status, notes))


WAREHOUSES = ['north', 'south', 'east', 'west', 'central']
COUNTRIES = ['DE', 'FR', 'ES', 'IT', 'NL', 'PL', 'SE', 'JP', 'US', 'IN']
WIDE_HEADER = 'sku,weight_kg,width_cm,height_cm,fragile,ship_by,warehouse,country,discount,priority'


def wide(rnd):
        """The ten extra columns; about 1% of rows break one of their rules."""
        x = [f'SKU-{rnd.randrange(10 ** 6):06d}', f'{rnd.randrange(1, 50000) / 1000:.3f}',
             str(rnd.randrange(1, 200)), str(rnd.randrange(1, 200)), rnd.choice(['true', 'false', '0', '1']),
             f'2025-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}', rnd.choice(WAREHOUSES),
             rnd.choice(COUNTRIES), '' if rnd.random() < 0.5 else f'0.{rnd.randrange(100):02d}',
             '' if rnd.random() < 0.3 else str(rnd.randrange(1, 6))]
        bad = rnd.random()
        if bad < 0.004:
                x[0] = 'SKU-12x456'
        elif bad < 0.007:
                x[2] = '-3'
        elif bad < 0.01:
                x[7] = 'Germany'
        return ','.join(x)


def main():
        n = int(sys.argv[1])
        is_wide = '--wide' in sys.argv[2:]
        rnd = random.Random(42)
        out = sys.stdout
        out.reconfigure(newline='')
        out.write('order_id,line,customer,email,amount,quantity,paid,created,status,notes' +
                  (',' + WIDE_HEADER if is_wide else '') + '\r\n')
        for i in range(n):
                r = row(rnd, i)
                if is_wide:
                        r += ',' + wide(rnd)
                out.write(r + '\r\n')


if __name__ == '__main__':
        main()
