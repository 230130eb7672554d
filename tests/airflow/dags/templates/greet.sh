echo "{{ params.name }} on {{ ds }} from a template file"
