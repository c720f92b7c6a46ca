# language: pt
@failover @paid @gpu @slow @serial
Funcionalidade: Failover para um standby de CPU e de volta
  Quando uma máquina GPU cai, o trabalho continua no standby de CPU com os
  dados íntegros e volta para uma GPU depois. Sabemos quanto tempo cada passo
  da recuperação levou e quantos dados se perderam desde a última sincronização.
  (@serial: estes cenários mudam a configuração de standby da conta, então rodam sozinhos, um de cada vez.)

  Contexto:
    Dado que a API da Dumont Cloud está saudável
    E que estou autenticado

  Esquema do Cenário: A GPU cai; o standby assume sozinho e o trabalho volta para uma GPU
    Dado a oferta mais barata entre as GPUs permitidas
    E que o saldo cobre o custo máximo da jornada de failover
    E que o standby de CPU está ativado com failover automático
    Quando eu crio uma instância com standby de CPU com essa oferta
    Então a instância fica em execução dentro do tempo limite
    E consigo me conectar a ela por SSH
    Quando eu instalo o modelo "<model>"
    Então seu standby de CPU está sincronizando
    Quando eu gravo um conjunto de dados de <files> arquivos de <size> KB
    Então o conjunto de dados chega íntegro ao standby
    Quando eu continuo gravando arquivos canário e a GPU falha
    Então o standby assume dentro do tempo limite de failover
    E o standby tem o modelo e o conjunto de dados íntegros
    E os dados perdidos desde a última sincronização somam no máximo <rpo> segundos de gravações
    Quando eu faço o failback para uma GPU
    Então a GPU tem o conjunto de dados íntegro
    E a GPU funciona e o modelo responde
    E o tempo total de recuperação é informado
    Exemplos:
      | model      | files | size | rpo |
      | qwen3-0.6b | 20    | 64   | 60  |

  Cenário: A GPU cai e o operador aciona o failover
    Dado a oferta mais barata entre as GPUs permitidas
    E que o saldo cobre o custo máximo da jornada de failover
    E que o standby de CPU está ativado sem failover automático
    Quando eu crio uma instância com standby de CPU com essa oferta
    Então a instância fica em execução dentro do tempo limite
    E consigo me conectar a ela por SSH
    Quando eu instalo o modelo "qwen3-0.6b"
    Então seu standby de CPU está sincronizando
    Quando eu gravo um conjunto de dados de 10 arquivos de 32 KB
    Então o conjunto de dados chega íntegro ao standby
    Quando eu continuo gravando arquivos canário e a GPU falha
    E eu peço o failover
    Então o standby assume dentro do tempo limite de failover
    E o standby tem o modelo e o conjunto de dados íntegros
    E os dados perdidos desde a última sincronização são informados
    Quando eu faço o failback para uma GPU
    Então a GPU tem o conjunto de dados íntegro
    E a GPU funciona e o modelo responde
    E o tempo total de recuperação é informado
