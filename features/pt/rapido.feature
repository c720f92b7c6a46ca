# language: pt
@quick
Funcionalidade: Verificações rápidas
  Verificações gratuitas que não criam nada e não custam nada: o serviço
  está no ar, conseguimos entrar, há saldo e há máquinas para alugar?

  Cenário: O serviço responde e tem máquinas para alugar
    Dado que a API da Dumont Cloud está saudável
    E que estou autenticado
    E o servidor diz quais jornadas pode rodar
    Então meu saldo é exibido
    E há ofertas de GPU entre as GPUs permitidas
    E há ofertas de CPU para máquinas de standby
    E nada foi criado
