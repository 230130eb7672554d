SELECT * FROM orders WHERE day = '{{ ds }}' AND n > {{ params.n }}
